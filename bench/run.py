"""The benchmark harness: `python -m bench.run [--quick] [--claims N] [--large] [--json FILE]`.

Starts an embedded PostgreSQL in a temporary directory (deleted at exit), builds the demo
database, runs the scenarios with interleaved, repeated rounds, and prints Markdown tables to
stdout (progress goes to stderr). See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from bench import (
    audit,
    baseline,
    concurrency,
    guard_cost,
    kills,
    large,
    mcp,
    naive,
    point,
    roundtrips,
)
from bench.postgres import bench_server

SCENARIOS = ("guard", "roundtrips", "point", "audit", "kills", "mcp", "large", "naive", "memory")
LARGE_CLAIMS = 1_000_000
T = TypeVar("T")


@dataclass(frozen=True)
class Options:
    claims: int
    large: bool
    rounds: int
    requests: int
    concurrency: int
    pool_size: int
    guard_calls: int
    large_repeats: int
    naive_repeats: int
    naive_queries: tuple[str, ...]
    scenarios: tuple[str, ...]
    json_path: str | None
    quick: bool
    baseline: str | None = None
    kills: int = 3


def parse_options(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run", description="sqlgateway benchmark harness"
    )
    parser.add_argument("--quick", action="store_true", help="CI smoke run: < 60 s, 20k claims")
    parser.add_argument("--claims", type=int, help="claims in the demo database (default 100000)")
    parser.add_argument(
        "--large",
        action="store_true",
        help=f"also build a {LARGE_CLAIMS:,}-claim database for the large-result scenarios",
    )
    parser.add_argument("--rounds", type=int, help="rounds per scenario (default 5)")
    parser.add_argument("--requests", type=int, help="point lookups per variant and round (3000)")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent clients (16)")
    parser.add_argument("--pool-size", type=int, default=10, help="connections per pool (10)")
    parser.add_argument("--guard-calls", type=int, help="check_sql calls per query and round")
    parser.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS),
        help=f"comma-separated subset of {','.join(SCENARIOS)}",
    )
    parser.add_argument("--json", dest="json_path", help="also write the results as JSON here")
    parser.add_argument(
        "--baseline",
        help="a commit (e.g. e6e5b14, main) whose gateway also runs in the audit and kills "
        "scenarios, for same-run comparisons",
    )
    parser.add_argument("--kills", type=int, help="SIGKILLs per sink and version (default 3)")
    args = parser.parse_args(argv)
    scenarios = tuple(s.strip() for s in args.scenarios.split(",") if s.strip())
    unknown = set(scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    quick = args.quick
    return Options(
        claims=args.claims or (20_000 if quick else 100_000),
        large=args.large,
        rounds=args.rounds or (2 if quick else 5),
        requests=args.requests or (400 if quick else 3000),
        concurrency=args.concurrency,
        pool_size=args.pool_size,
        guard_calls=args.guard_calls or (200 if quick else 1000),
        large_repeats=2 if quick else 5,
        naive_repeats=1 if quick else 3,
        naive_queries=("unordered",) if quick else tuple(large.QUERIES),
        scenarios=scenarios,
        json_path=args.json_path,
        quick=quick,
        baseline=args.baseline,
        kills=args.kills or (1 if quick else 3),
    )


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop when installed (uvicorn[standard] brings it, and the gateway runs on it)."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def _progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _public(value: Any) -> Any:
    """The results without the render-only entries (keys starting with `_`)."""
    if isinstance(value, dict):
        return {k: _public(v) for k, v in value.items() if not str(k).startswith("_")}
    if isinstance(value, list):
        return [_public(v) for v in value]
    return value


def run(options: Options) -> dict[str, Any]:
    started = time.perf_counter()
    runner = asyncio.Runner(loop_factory=_loop_factory())

    def go(coroutine: Coroutine[Any, Any, T]) -> T:
        return runner.run(coroutine)

    results: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "event_loop": "uvloop" if _loop_factory() else "asyncio",
        },
        "options": {k: v for k, v in vars(options).items() if k != "json_path"},
    }
    if "guard" in options.scenarios:
        _progress("guard cost …")
        results["guard"] = guard_cost.run_guard_cost(
            rounds=options.rounds, calls=options.guard_calls
        )
    with runner, bench_server() as server:
        results["machine"]["postgresql"] = server.server.version
        sizes = [options.claims]
        if options.large and LARGE_CLAIMS not in sizes:
            sizes.append(LARGE_CLAIMS)
        for claims in sizes:
            _progress(f"building the demo database with {claims:,} claims …")
            built = server.database(claims)
            _progress(f"  built in {built.build_s:.1f} s")
        dsn = server.databases[options.claims].reader_dsn
        dsns = {claims: server.databases[claims].reader_dsn for claims in sizes}
        log_dir = server.workdir
        if "roundtrips" in options.scenarios:
            _progress("round trips …")
            results["roundtrips"] = go(roundtrips.count_round_trips(dsn))
        if "point" in options.scenarios:
            _progress("point lookups …")
            results["point"] = go(
                point.run_point_lookups(
                    dsn=dsn,
                    claims=options.claims,
                    postmaster=server.postmaster(),
                    log_dir=log_dir,
                    rounds=options.rounds,
                    requests=options.requests,
                    concurrency=options.concurrency,
                    pool_size=options.pool_size,
                )
            )
        base_tree, base_name = None, ""
        if options.baseline and {"audit", "kills"} & set(options.scenarios):
            base_name = baseline.describe(options.baseline)
            base_tree = baseline.checkout(options.baseline, server.workdir)
            results["baseline"] = base_name
        if {"audit", "kills"} & set(options.scenarios):
            _progress("building the audit database …")
            audit_dsn = server.audit_dsn()
        if "audit" in options.scenarios:
            _progress("audit trail overhead …")
            results["audit"] = go(
                audit.run_audit_overhead(
                    dsn=dsn,
                    audit_dsn=audit_dsn,
                    claims=options.claims,
                    postmaster=server.postmaster(),
                    log_dir=log_dir,
                    rounds=options.rounds,
                    requests=options.requests,
                    concurrency=options.concurrency,
                    pool_size=options.pool_size,
                    baseline=base_tree,
                    baseline_name=base_name,
                )
            )
        if "kills" in options.scenarios:
            _progress("answers without their audit event after SIGKILL …")
            results["kills"] = go(
                kills.run_kills(
                    dsn=dsn,
                    audit_dsn=audit_dsn,
                    claims=options.claims,
                    log_dir=log_dir,
                    kills=options.kills,
                    baseline=base_tree,
                    baseline_name=base_name,
                )
            )
        if "mcp" in options.scenarios:
            _progress("MCP run_query against /query …")
            results["mcp"] = go(
                mcp.run_mcp_lookups(
                    dsn=dsn,
                    claims=options.claims,
                    postmaster=server.postmaster(),
                    log_dir=log_dir,
                    rounds=options.rounds,
                    requests=options.requests,
                    concurrency=options.concurrency,
                    pool_size=options.pool_size,
                )
            )
        if "large" in options.scenarios:
            _progress("large results …")
            results["large"] = go(
                large.run_large_results(
                    databases=dsns,
                    log_dir=log_dir,
                    rounds=options.rounds,
                    repeats=options.large_repeats,
                )
            )
        if "memory" in options.scenarios:
            _progress("memory under concurrency …")
            results["memory"] = go(
                concurrency.run_memory_under_concurrency(
                    dsn=dsn,
                    log_dir=log_dir,
                    concurrency=(1, 8) if options.quick else (1, 8, 16),
                )
            )
        if "naive" in options.scenarios:
            _progress("naive middleware …")
            results["naive"] = naive.run_naive_comparison(
                databases=dsns,
                rounds=options.rounds,
                repeats=options.naive_repeats,
                queries=options.naive_queries,
            )
    results["elapsed_s"] = time.perf_counter() - started
    return results


def render(results: dict[str, Any]) -> str:
    machine = results["machine"]
    options = results["options"]
    parts = [
        "# sqlgateway benchmark",
        f"{machine['cpus']} CPUs shared by the load client (this process), the gateway server "
        f"(uvicorn subprocess) and PostgreSQL {machine.get('postgresql', '?')} (embedded); "
        f"Python {machine['python']}, harness loop {machine['event_loop']}. "
        f"{options['claims']:,} claims, {options['rounds']} rounds per scenario, variants "
        "interleaved in rotated order. Only same-run ratios are meaningful on a shared machine.",
    ]
    sections = (
        ("point", "## 1. Point lookups", point.render),
        ("roundtrips", "### Round trips to PostgreSQL per query (counted on the wire)", None),
        ("audit", "### Audit trail overhead on point lookups", audit.render),
        ("kills", "### Answers without their audit event after SIGKILL", kills.render),
        ("mcp", "### MCP run_query against /query", mcp.render),
        ("guard", "## 2. Guard cost (`check_sql`)", guard_cost.render),
        ("large", "## 3. Large results through the gateway", large.render),
        ("naive", "## 4. Versus a naive middleware", naive.render),
        ("memory", "## 5. Memory under concurrency", concurrency.render),
    )
    for key, title, renderer in sections:
        if key in results:
            body = roundtrips.render(results[key]) if renderer is None else renderer(results[key])
            parts += [title, body]
    parts.append(f"_Run took {results['elapsed_s']:.0f} s._")
    return "\n\n".join(parts) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    results = run(options)
    sys.stdout.write(render(results))
    if options.json_path:
        with open(options.json_path, "w", encoding="utf-8") as out:
            json.dump(_public(results), out, indent=2, default=str)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
