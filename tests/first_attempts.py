"""The first-attempts corpus (tests/corpus/first_attempts.yaml): typical first attempts a
model writes against the demo, each with the fix its answer must name, and how an answer is
judged. Shared by tests/integration/api/test_first_attempts.py and `python -m
bench.model_errors` (which prints the rate by family).

An attempt passes when its answer is right as it stands (`rows`: the same rows as the
reference PostgreSQL) or names the fix (every `fix` string appears, in any case, in the
error's message and hint or in the notice of a 200 answer), is answered when it must be
(`answers`), and shows none of the `never` strings anywhere. A 200 answer without a notice to
an attempt with a literal outside a column's known domain (`outside`) is a silent zero: it
fails, and is counted apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import yaml

CORPUS = Path(__file__).resolve().parent / "corpus" / "first_attempts.yaml"
FAMILIES = ("dialect", "values", "names", "postgres", "sensitive", "discovery", "correct")


class Poster(Protocol):
    def post(self, url: str, *, json: Any) -> Any: ...


def load_first_attempts(path: Path = CORPUS) -> list[dict[str, Any]]:
    entries = yaml.safe_load(path.read_text("utf-8"))
    assert isinstance(entries, list)
    for entry in entries:
        assert entry["family"] in FAMILIES, entry
        assert entry.get("fix") or entry.get("rows"), entry
    return entries


@dataclass(frozen=True)
class Outcome:
    entry: Mapping[str, Any]
    status: int
    passed: bool
    silent_zero: bool
    why: str  # what was missing, for a failure
    said: str  # the message, hint or notice

    @property
    def family(self) -> str:
        return str(self.entry["family"])


def said(body: Mapping[str, Any]) -> str:
    """What an answer tells the model: the error's message and hint, or the notice."""
    error = body.get("error")
    if isinstance(error, dict):
        return f"{error.get('message', '')}\n{error.get('hint') or ''}"
    return str(body.get("notice") or "")


def judge(
    entry: Mapping[str, Any], status: int, body: Mapping[str, Any], raw: str, reference: Any
) -> Outcome:
    """The outcome of `entry`'s answer (`reference`: the reference query's rows, if any)."""
    text = said(body)
    silent_zero = bool(entry.get("outside")) and status == 200 and not body.get("notice")
    problems: list[str] = []
    if entry.get("rows") is not None:
        if status != 200 or body.get("rows") != reference:
            problems.append(f"rows differ from {entry['rows']!r}")
    else:
        missing = [fix for fix in entry["fix"] if fix.lower() not in text.lower()]
        if missing:
            problems.append(f"does not name {missing}")
        if entry.get("answers") and status != 200:
            problems.append(f"not answered ({status})")
    leaked = [word for word in entry.get("never", ()) if word.lower() in raw.lower()]
    if leaked:
        problems.append(f"shows {leaked}")
    if silent_zero:
        problems.append("silent zero: answered without a notice")
    return Outcome(entry, status, not problems, silent_zero, "; ".join(problems), text)


def run(client: Poster, entries: Iterable[Mapping[str, Any]]) -> list[Outcome]:
    """Send every entry (and its reference query) through `client`; judge the answers."""
    outcomes = []
    for entry in entries:
        body = {
            "sql": entry["sql"],
            **({"dialect": entry["dialect"]} if "dialect" in entry else {}),
        }
        response = client.post("/query", json=body)
        reference = None
        if entry.get("rows") is not None:
            answer = client.post("/query", json={"sql": entry["rows"]})
            assert answer.status_code == 200, (entry["rows"], answer.text)
            reference = answer.json()["rows"]
        outcomes.append(
            judge(entry, response.status_code, response.json(), response.text, reference)
        )
    return outcomes


def rates(outcomes: Iterable[Outcome]) -> dict[str, tuple[int, int]]:
    """Family → (passed, total), in FAMILIES order, then "all"."""
    found: dict[str, list[int]] = {family: [0, 0] for family in FAMILIES}
    for outcome in outcomes:
        counts = found[outcome.family]
        counts[0] += outcome.passed
        counts[1] += 1
    total = [sum(c[0] for c in found.values()), sum(c[1] for c in found.values())]
    return {family: (c[0], c[1]) for family, c in {**found, "all": total}.items() if c[1]}
