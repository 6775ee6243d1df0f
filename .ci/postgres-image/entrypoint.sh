#!/bin/sh
# Entrypoint of the offline-built PostgreSQL CI image (built by build.sh next to this file).
#
# It reproduces the part of the official postgres image's contract that testcontainers'
# PostgresContainer relies on:
#   POSTGRES_USER      superuser name (default: postgres)
#   POSTGRES_PASSWORD  its password; required unless POSTGRES_HOST_AUTH_METHOD=trust
#   POSTGRES_DB        database created at first start (default: $POSTGRES_USER)
#   POSTGRES_HOST_AUTH_METHOD  auth for TCP connections (default: scram-sha-256)
#   POSTGRES_INITDB_ARGS       extra initdb arguments (word-split)
#   PGDATA             data directory (default: /var/lib/postgresql/data)
# Unix-socket connections are trusted, TCP connections from anywhere use
# scram-sha-256 for every role, and the server listens on 5432 on all interfaces.
# `psql`, `pg_isready` and `sh` are on PATH, so testcontainers' readiness probe
# (`sh -c "PGPASSWORD=... psql --host 127.0.0.1 ... -c 'select version();'"`) works, and the
# server logs "database system is ready to accept connections" once it accepts them.
set -eu

: "${PGDATA:=/var/lib/postgresql/data}"
export PGDATA

# `docker run IMAGE sh -c ...` runs the command as is, like the official image.
if [ "$#" -gt 0 ] && [ "$1" != postgres ] && [ "${1#-}" = "$1" ]; then
	exec "$@"
fi
if [ "${1:-}" = postgres ]; then
	shift
fi

# As root: prepare the directories, then run again as the postgres user.
if [ "$(id -u)" = 0 ]; then
	mkdir -p "$PGDATA" /var/run/postgresql
	chown postgres:postgres "$PGDATA" /var/run/postgresql
	chmod 700 "$PGDATA"
	exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" postgres "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
	: "${POSTGRES_USER:=postgres}"
	: "${POSTGRES_DB:=$POSTGRES_USER}"
	auth="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
	if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$auth" != trust ]; then
		echo "entrypoint: error: POSTGRES_PASSWORD is empty (set it, or POSTGRES_HOST_AUTH_METHOD=trust)" >&2
		exit 1
	fi

	pwopt=""
	if [ -n "${POSTGRES_PASSWORD:-}" ]; then
		pwfile="$(mktemp)"
		printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
		pwopt="--pwfile=$pwfile"
	fi
	# shellcheck disable=SC2086  # POSTGRES_INITDB_ARGS is meant to be word-split
	initdb --pgdata="$PGDATA" --username="$POSTGRES_USER" $pwopt \
		--auth-local=trust --auth-host="$auth" --encoding=UTF8 ${POSTGRES_INITDB_ARGS:-}
	if [ -n "$pwopt" ]; then
		rm -f "$pwfile"
	fi

	printf "\nlisten_addresses = '*'\n" >>"$PGDATA/postgresql.conf"
	# initdb only allows 127.0.0.1 and ::1; the docker host connects from the bridge gateway.
	printf 'host all all all %s\n' "$auth" >>"$PGDATA/pg_hba.conf"

	if [ "$POSTGRES_DB" != postgres ]; then
		db="$(printf '%s' "$POSTGRES_DB" | sed 's/"/""/g')"
		# Single-user mode: no server, no network, runs as the bootstrap superuser.
		out="$(printf 'CREATE DATABASE "%s";\n' "$db" | postgres --single -D "$PGDATA" postgres 2>&1)" || {
			printf '%s\n' "$out" >&2
			exit 1
		}
		case "$out" in
		*ERROR:*)
			printf 'entrypoint: error: could not create database %s:\n%s\n' "$POSTGRES_DB" "$out" >&2
			exit 1
			;;
		esac
	fi
	echo "entrypoint: PostgreSQL init process complete; ready for start up."
fi

exec postgres -D "$PGDATA" "$@"
