"""Where the gateway server's CPU goes during point lookups: py-spy against the uvicorn
subprocess (a development aid, not part of the harness: `pip install py-spy` first).

    python -m bench.profile_gateway [--claims 20000] [--seconds 10] [--nocost] [--top 25]

Prints the functions with the most samples (inclusive and self) and the share of samples in
each layer of the stack (guard, executor, encoder, HTTP, …). The raw collapsed stacks are kept
in the temporary directory's neighbour given by --out.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import subprocess
from collections import Counter
from pathlib import Path

from bench.gateway import HOST, GatewayProcess
from bench.http_load import query_request, run_load
from bench.point import lookup_sql
from bench.postgres import bench_server

#: Layers, by the first matching path fragment seen from the leaf up.
LAYERS = (
    ("guard (sqlglot parse/render)", ("sqlglot", "sqlgateway/guard")),
    ("cost check (EXPLAIN JSON)", ("sqlgateway/guard/cost.py",)),
    ("encoder", ("sqlgateway/db/encode.py",)),
    ("asyncpg driver", ("asyncpg",)),
    ("request body / pydantic", ("sqlgateway/http/body.py", "pydantic")),
    ("starlette routing/middleware", ("starlette", "sqlgateway/http/middleware.py")),
    ("uvicorn HTTP (httptools)", ("uvicorn",)),
)


def _layer(stack: list[str]) -> str:
    for frame in reversed(stack):
        for name, fragments in LAYERS:
            if any(fragment in frame for fragment in fragments):
                return name
    return "event loop / other"


def analyse(collapsed: Path, top: int) -> str:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    layers: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack_text, _, count_text = line.rpartition(" ")
        if not stack_text:
            continue
        count = int(count_text)
        stack = stack_text.split(";")
        total += count
        own[stack[-1]] += count
        for frame in set(stack):
            inclusive[frame] += count
        layers[_layer(stack)] += count
    lines = [f"{total} samples", "", "share of samples by layer (innermost match):"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in layers.most_common()]
    lines += ["", f"top {top} frames, inclusive:"]
    lines += [f"  {100 * n / total:5.1f}%  {frame}" for frame, n in inclusive.most_common(top)]
    lines += ["", f"top {top} frames, self:"]
    lines += [f"  {100 * n / total:5.1f}%  {frame}" for frame, n in own.most_common(top)]
    return "\n".join(lines)


async def _load(gateway: GatewayProcess, claims: int, seconds: float, concurrency: int) -> None:
    rng = random.Random(7)
    host = f"{HOST}:{gateway.port}"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        raws = [
            query_request(host, gateway.api_key, lookup_sql(rng.randint(1, claims)))
            for _ in range(500)
        ]
        await run_load(HOST, gateway.port, raws, concurrency=concurrency)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--claims", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--nocost", action="store_true", help="SQLGATEWAY_MAX_PLAN_COST=0 …")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--out", default="gateway-profile.txt", help="collapsed stacks file")
    args = parser.parse_args()
    if shutil.which("py-spy") is None:
        raise SystemExit("py-spy is not installed: pip install py-spy")
    settings = {"max_plan_cost": 0, "max_plan_rows": 0} if args.nocost else {}
    with bench_server() as server:
        dsn = server.database(args.claims).reader_dsn
        with GatewayProcess(dsn, server.workdir, "profile", **settings) as gateway:
            asyncio.run(_load(gateway, args.claims, 1.0, args.concurrency))  # warm-up
            command = [
                "py-spy", "record", "--pid", str(gateway.pid), "--rate", "500", "--format", "raw",
                "--output", args.out, "--duration", str(int(args.seconds)),
            ]  # fmt: skip
            spy = subprocess.Popen(
                command,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            asyncio.run(_load(gateway, args.claims, args.seconds + 1, args.concurrency))
            spy.wait()
    print(analyse(Path(args.out), args.top))


if __name__ == "__main__":
    main()
