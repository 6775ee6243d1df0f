"""Typical first attempts on the demo get an answer, or an error or notice naming the fix
(tests/corpus/first_attempts.yaml, judged by tests/first_attempts.py), through HTTP on the
real test database, configured like the demo (schema docs with a sensitive column)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import TEST_API_KEY, load_corpus, make_settings
from dbstate import snapshot
from first_attempts import load_first_attempts, run
from starlette.testclient import TestClient

from sqlgateway.app import create_app
from sqlgateway.catalog.schema_docs import load_schema_docs
from sqlgateway.demo.database import DEMO_TABLES, DemoDatabase
from sqlgateway.demo.files import demo_docs_dir
from sqlgateway.errors import MAX_HINT_CHARS

DEMO_ONLY = ",".join(f"public.{table}" for table in DEMO_TABLES)
ENTRIES = load_first_attempts()


@pytest.fixture(scope="module")
def gpt(demo: DemoDatabase) -> Iterator[TestClient]:
    settings = make_settings(demo, schema_docs_dir=demo_docs_dir(), allowed_tables=DEMO_ONLY)
    with TestClient(
        create_app(settings), headers={"Authorization": f"Bearer {TEST_API_KEY}"}
    ) as client:
        yield client


def test_the_corpus_is_large_and_covers_every_family() -> None:
    assert len(ENTRIES) >= 150
    assert len({(entry["sql"], entry.get("dialect")) for entry in ENTRIES}) == len(ENTRIES)
    assert {entry["family"] for entry in ENTRIES} >= {
        "dialect",
        "values",
        "names",
        "postgres",
        "sensitive",
        "discovery",
    }


@pytest.mark.parametrize("entry", ENTRIES, ids=[f"{e['family']}-{e['sql'][:50]}" for e in ENTRIES])
def test_first_attempt_is_answered_or_told_the_fix(gpt: TestClient, entry: dict[str, Any]) -> None:
    [outcome] = run(gpt, [entry])
    assert outcome.passed, f"{outcome.why}\n  said: {outcome.said}"


def test_no_hint_is_longer_than_its_bound(gpt: TestClient) -> None:
    for entry in ENTRIES:
        body = gpt.post("/query", json={"sql": entry["sql"]}).json()
        error = body.get("error") or {}
        assert len(error.get("hint") or "") <= MAX_HINT_CHARS, entry["sql"]
        assert len(body.get("notice") or "") <= 2 * MAX_HINT_CHARS, entry["sql"]


# --- correct queries get no spurious notice --------------------------------------------------


def _notice_besides_truncation(body: dict[str, Any]) -> str:
    notice = body.get("notice") or ""
    return re.sub(r"(^| )Returned [0-9]+ rows; more rows exist.*$", "", notice)


#: The demo's convention about the clock (its data is a snapshot), which every query comparing
#: its tables with now() or CURRENT_DATE is told, and rightly: on the demo they find nothing.
_CLOCK_NOTICE = re.compile(
    r"^(?:now\(\)|CURRENT_DATE|LOCALTIMESTAMP|CURRENT_TIMESTAMP)(?:, [^;]+)? reads the server's "
    r"clock; conventions: Snapshot: [^\n]*?not now\(\)\.$"
)


@pytest.mark.parametrize("entry", load_corpus("accepted"), ids=lambda e: e["note"][:40])
def test_accepted_queries_get_no_notice(gpt: TestClient, entry: dict[str, str]) -> None:
    response = gpt.post("/query", json={"sql": entry["sql"]})
    if response.status_code == 200:  # a few read tables the demo configuration does not expose
        notice = _notice_besides_truncation(response.json())
        if notice and re.search(r"\b(?:now\(|current_date\b)", entry["sql"], re.IGNORECASE):
            assert _CLOCK_NOTICE.match(notice), notice
        else:
            assert notice == "", entry["sql"]


def test_documented_examples_get_no_notice(gpt: TestClient) -> None:
    for example in load_schema_docs(demo_docs_dir()).each("examples"):
        body = gpt.post("/query", json={"sql": example.sql}).json()
        assert _notice_besides_truncation(body) == "", example.sql


# --- the hints widen nothing ----------------------------------------------------------------


def test_the_refused_corpus_stays_refused_with_hints_and_star_expansion(
    gpt: TestClient, demo: DemoDatabase
) -> None:
    before = snapshot(demo.admin_dsn)
    passed = []
    for entry in load_corpus("refused"):
        response = gpt.post("/query", json={"sql": entry["sql"]})
        if response.status_code not in (400, 422):
            passed.append(f"{entry['sql']!r} -> {response.status_code}")
    assert passed == []
    assert snapshot(demo.admin_dsn) == before


def test_adversarial_text_gets_a_bounded_answer(gpt: TestClient) -> None:
    for sql in (
        "SELECT TOP 1 " + "x + " * 24_900 + "1 FROM claims",  # 99,600 characters
        "SELECT TOP 1 " + "(" * 100 + "1" + ")" * 100,
        "SELECT " + "ARRAY[" * 90 + "1" + "]" * 90,
        "SELECT [a], `b`, ROWNUM, ISNULL(x, 1), 'a' + 'b', " + "1, " * 5_000 + "1 FROM nowhere",
        "SHOW TABLES; " * 2_000,
    ):
        response = gpt.post("/query", json={"sql": sql})
        assert response.status_code == 400, response.text[:300]
        assert len(response.json()["error"].get("hint") or "") <= MAX_HINT_CHARS
