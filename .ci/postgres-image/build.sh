#!/usr/bin/env bash
# Builds, without any image registry, a Docker image that behaves like the official
# postgres image as far as testcontainers' PostgresContainer is concerned.
#
#   build.sh TAG [PG_MAJOR]   build the image and tag it TAG (PG_MAJOR default 15)
#   build.sh recipe PG_MAJOR  print the recipe id stored in the image's label, so that
#                             .ci/docker-up can tell an image built from an older recipe
#
# How: debootstrap a minimal Debian with postgresql-N from the Debian mirror apt already
# uses, add entrypoint.sh, and `docker import` the tree. Needs root, debootstrap and a
# running Docker engine; takes about a minute on 2 cores. The tree is built in a mktemp dir
# under /var/tmp that is removed afterwards, whatever happens.
#
# Environment:
#   SQLGATEWAY_DEBIAN_MIRROR  mirror URL to debootstrap from (default: the first Debian
#                             archive in /etc/apt/sources.list{,.d/*.list,.d/*.sources})
#   SQLGATEWAY_TEST_PG_SUITE  Debian suite (default: the one that ships PG_MAJOR:
#                             13 bullseye, 15 bookworm, 17 trixie)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

say() { echo "build-pg-image: $*"; }
die() {
	echo "build-pg-image: FAILED: $*" >&2
	exit 1
}

suite_for_major() {
	if [[ -n "${SQLGATEWAY_TEST_PG_SUITE:-}" ]]; then
		echo "$SQLGATEWAY_TEST_PG_SUITE"
		return
	fi
	case "$1" in
	13) echo bullseye ;;
	15) echo bookworm ;;
	17) echo trixie ;;
	*) return 1 ;;
	esac
}

recipe_id() {
	local major="$1" suite
	suite="$(suite_for_major "$major")" || suite="?"
	{
		echo "major=$major suite=$suite"
		cat "$here/build.sh" "$here/entrypoint.sh"
	} | sha256sum | cut -c1-16
}

# Prints the first Debian archive URL (not security/updates/backports) that apt uses.
debian_mirror() {
	if [[ -n "${SQLGATEWAY_DEBIAN_MIRROR:-}" ]]; then
		echo "$SQLGATEWAY_DEBIAN_MIRROR"
		return
	fi
	local files=() f
	[[ -f /etc/apt/sources.list ]] && files+=(/etc/apt/sources.list)
	for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
		[[ -f "$f" ]] && files+=("$f")
	done
	local url
	for f in "${files[@]}"; do
		if [[ "$f" == *.sources ]]; then
			# deb822: blank-line separated stanzas of "Field: value" lines.
			url="$(awk '
				function flush() {
					if (types ~ /(^| )deb( |$)/ && enabled !~ /^(no|false)$/ && main_suite)
						if (!found) { print uri; found = 1 }
					types = ""; uri = ""; enabled = ""; main_suite = 0
				}
				/^[ \t]*#/ { next }
				/^[ \t]*$/ { flush(); next }
				{
					key = tolower($1); sub(/:$/, "", key)
					val = $0; sub(/^[^:]*:[ \t]*/, "", val)
					if (key == "types") types = val
					else if (key == "enabled") enabled = tolower(val)
					else if (key == "uris") { split(val, u, /[ \t]+/); uri = u[1] }
					else if (key == "suites") {
						n = split(val, s, /[ \t]+/)
						for (i = 1; i <= n; i++)
							if (s[i] != "" && s[i] !~ /[-\/](security|updates|backports|proposed-updates)$/) main_suite = 1
					}
				}
				END { flush() }' "$f")"
		else
			# one-line format: deb [options] URI suite component...
			url="$(awk '
				$1 != "deb" { next }
				{
					i = 2
					if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
					if ($(i + 1) !~ /[-\/](security|updates|backports|proposed-updates)$/) { print $i; exit }
				}' "$f")"
		fi
		if [[ "$url" =~ ^(https?|ftp|file):// ]] && [[ "$url" != *security* ]]; then
			echo "${url%/}"
			return
		fi
	done
	return 1
}

if [[ "${1:-}" == recipe ]]; then
	recipe_id "${2:?usage: build.sh recipe PG_MAJOR}"
	exit 0
fi

tag="${1:?usage: build.sh TAG [PG_MAJOR]}"
major="${2:-15}"
[[ "$major" =~ ^[0-9]+$ ]] || die "PG_MAJOR must be a number, got '$major'"
suite="$(suite_for_major "$major")" ||
	die "no Debian suite known to ship PostgreSQL $major (13: bullseye, 15: bookworm, 17: trixie); set SQLGATEWAY_TEST_PG_SUITE, or use a registry and the official postgres:$major image"
mirror="$(debian_mirror)" ||
	die "no Debian mirror found in /etc/apt/sources.list or /etc/apt/sources.list.d/; set SQLGATEWAY_DEBIAN_MIRROR"
command -v debootstrap >/dev/null || die "debootstrap is not installed"
[[ "$(id -u)" == 0 ]] || die "must run as root (debootstrap)"

rootfs="$(mktemp -d /var/tmp/sqlgateway-pg-rootfs.XXXXXX)"
cleanup() {
	# debootstrap mounts proc/sys inside the tree; never rm -rf through a mount.
	awk -v p="$rootfs" '$2 == p || index($2, p "/") == 1 { print $2 }' /proc/mounts |
		sort -r | while read -r m; do umount -l "$m" || true; done
	rm -rf --one-file-system "$rootfs"
}
trap cleanup EXIT

t0=$SECONDS
log="$rootfs.debootstrap.log"
say "debootstrap $suite (postgresql-$major) from $mirror into $rootfs (log: $log)"
if ! debootstrap --variant=minbase --include="postgresql-$major,postgresql-client-$major,locales" \
	"$suite" "$rootfs" "$mirror" >"$log" 2>&1; then
	tail -n 25 "$log" >&2
	die "debootstrap failed (full log: $log)"
fi
rm -f "$log"
say "debootstrap done in $((SECONDS - t0))s"

# Stop anything the package scripts may have started inside the tree.
for p in /proc/[0-9]*; do
	if [[ "$(readlink "$p/root" 2>/dev/null)" == "$rootfs" ]]; then
		kill -KILL "${p#/proc/}" 2>/dev/null || true
	fi
done

say "configuring the image tree"
# The locale the official image uses, so collation and messages match it.
chroot "$rootfs" localedef -i en_US -c -f UTF-8 -A /usr/share/locale/locale.alias en_US.UTF-8
install -m 0755 "$here/entrypoint.sh" "$rootfs/usr/local/bin/docker-entrypoint.sh"
# The package's postinst creates a "main" cluster; the entrypoint makes its own in $PGDATA.
rm -rf "$rootfs/var/lib/postgresql/$major" "$rootfs/etc/postgresql/$major"
# Nothing of the build host, and no caches or docs.
rm -f "$rootfs/etc/hostname"
: >"$rootfs/etc/resolv.conf"
rm -rf "$rootfs"/var/cache/apt/* "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/* \
	"$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
	"$rootfs"/usr/share/i18n "$rootfs"/tmp/*

pgbin="/usr/lib/postgresql/$major/bin"
[[ -x "$rootfs$pgbin/postgres" && -x "$rootfs$pgbin/psql" ]] || die "postgresql-$major binaries missing in the tree"

say "importing into docker as $tag"
# (docker 20.10's import does not take STOPSIGNAL: `docker stop` sends SIGTERM, a "smart"
# shutdown; testcontainers removes its containers with force, so this does not matter.)
t0=$SECONDS
tar --numeric-owner --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' -C "$rootfs" -c . |
	docker import \
		--change 'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]' \
		--change 'CMD ["postgres"]' \
		--change "ENV PATH=$pgbin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
		--change 'ENV PGDATA=/var/lib/postgresql/data' \
		--change 'ENV LANG=en_US.utf8' \
		--change 'EXPOSE 5432' \
		--change "LABEL org.sqlgateway.ci.recipe=$(recipe_id "$major")" \
		--change "LABEL org.sqlgateway.ci.pg-major=$major" \
		--change "LABEL org.opencontainers.image.description=\"PostgreSQL $major from Debian $suite for sqlgateway CI (offline build)\"" \
		- "$tag" >/dev/null || die "docker import failed"

say "imported in $((SECONDS - t0))s"
# Smoke test: the image runs, and has what testcontainers execs.
docker run --rm "$tag" sh -c 'psql --version && pg_isready --version && postgres --version' >/dev/null ||
	die "smoke test of $tag failed"
say "built $tag ($(docker image inspect --format '{{.Size}}' "$tag" | awk '{ printf "%.0f MB", $1 / 1e6 }'))"
