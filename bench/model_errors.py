"""How often a model's first attempt is answered correctly or told the fix, by family:
`python -m bench.model_errors [--database-url URL] [--claims N] [--verbose] [--json FILE]`.

Sends every attempt of tests/corpus/first_attempts.yaml (judged by tests/first_attempts.py,
the same judge as the test suite) over real HTTP to `python -m sqlgateway serve` in a
subprocess, configured like the demo: its schema docs, its six tables. The database is an
embedded PostgreSQL in a temporary directory (deleted at exit) unless --database-url names a
superuser URL of a server of your own.

The gateway is the one of the current directory (`python -m sqlgateway` from it), so running
this file from another checkout measures that checkout: how the "before" rate is taken.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from json import dumps
from pathlib import Path
from typing import Any

from bench.gateway import GatewayProcess
from bench.postgres import READER_ROLE, bench_server
from sqlgateway.demo.database import DEMO_TABLES, ensure_demo
from sqlgateway.demo.files import demo_docs_dir

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the corpus and its judge live beside the tests

from first_attempts import CORPUS, Outcome, load_first_attempts, rates, run  # noqa: E402

DATABASE = "claims_model_errors"


class Response:
    def __init__(self, status_code: int, text: str) -> None:
        self.status_code = status_code
        self.text = text

    def json(self) -> Any:
        return json.loads(self.text)


class Client:
    """POSTs JSON to the gateway with its API key (urllib: no client dependency)."""

    def __init__(self, base: str, api_key: str) -> None:
        self.base = base
        self.api_key = api_key

    def post(self, url: str, *, json: Any) -> Response:
        request = urllib.request.Request(
            self.base + url,
            data=dumps(json).encode(),
            headers={"Authorization": f"Bearer {self.api_key}", "Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                return Response(answer.status, answer.read().decode())
        except urllib.error.HTTPError as error:
            return Response(error.code, error.read().decode())


@contextmanager
def admin_dsn(url: str | None) -> Iterator[str]:
    if url is not None:
        yield url
        return
    with bench_server() as server:
        yield server.server.admin_dsn()


def measure(url: str | None, claims: int, corpus: Path) -> list[Outcome]:
    entries = load_first_attempts(corpus)
    with admin_dsn(url) as admin, tempfile.TemporaryDirectory() as logs:
        demo = asyncio.run(
            ensure_demo(admin, database=DATABASE, reader_role=READER_ROLE, claims=claims)
        )
        settings = {
            "schema_docs_dir": demo_docs_dir(),
            "allowed_tables": ",".join(f"public.{table}" for table in DEMO_TABLES),
        }
        with GatewayProcess(demo.reader_dsn, Path(logs), "model-errors", **settings) as gateway:
            client = Client(f"http://127.0.0.1:{gateway.port}", gateway.api_key)
            return run(client, entries)


def table(outcomes: Sequence[Outcome]) -> str:
    lines = [
        "| family | attempts | answered or told the fix | rate | silent zeros |",
        "|---|---:|---:|---:|---:|",
    ]
    for family, (passed, total) in rates(outcomes).items():
        zeros = sum(o.silent_zero for o in outcomes if family in ("all", o.family))
        shown = f"**{family}**" if family == "all" else family
        lines.append(f"| {shown} | {total} | {passed} | {100 * passed / total:.0f} % | {zeros} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.model_errors", description=__doc__)
    parser.add_argument("--database-url", help="superuser URL of a PostgreSQL of your own")
    parser.add_argument("--claims", type=int, default=20_000, help="claims in the demo (20000)")
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="the attempts (YAML)")
    parser.add_argument("--verbose", action="store_true", help="list the failed attempts")
    parser.add_argument("--json", dest="json_path", help="also write the outcomes as JSON")
    options = parser.parse_args(argv)
    outcomes = measure(options.database_url, options.claims, options.corpus)
    print(table(outcomes))
    if options.verbose:
        for outcome in outcomes:
            if not outcome.passed:
                said = " ".join(outcome.said.split())[:300]
                print(
                    f"- [{outcome.family}] {outcome.entry['sql']}\n    {outcome.why}\n    said: {said}"
                )
    if options.json_path:
        Path(options.json_path).write_text(
            json.dumps(
                {
                    "rates": rates(outcomes),
                    "failed": [
                        {"family": o.family, "sql": o.entry["sql"], "why": o.why}
                        for o in outcomes
                        if not o.passed
                    ],
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
