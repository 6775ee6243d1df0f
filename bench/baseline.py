"""Another version of the gateway to measure against in the same run: the tree of a commit of
this repository (`--baseline e6e5b14`), extracted into the harness's temporary directory. A
`GatewayProcess(..., source=tree)` runs it with the harness's own interpreter and packages."""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]


def checkout(commit: str, into: Path) -> Path:
    """The source tree of `commit`, extracted into a new directory under `into`."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", commit],
        cwd=REPOSITORY,
        capture_output=True,
        check=True,
    ).stdout
    target = into / f"baseline-{commit}"
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tree:
        tree.extractall(target, filter="data")
    if not (target / "sqlgateway" / "__init__.py").exists():
        raise RuntimeError(f"{commit} holds no sqlgateway package")
    return target


def describe(commit: str) -> str:
    """`commit` as its short hash (the name given may be a branch that moves)."""
    return subprocess.run(
        ["git", "rev-parse", "--short", commit],
        cwd=REPOSITORY,
        capture_output=True,
        check=True,
        text=True,
    ).stdout.strip()
