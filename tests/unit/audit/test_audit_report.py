"""The pure parts of `sqlgateway audit`: time flags, filters, SQL, aggregations, renderings."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sqlgateway.audit.event import NAMES
from sqlgateway.audit.read import (
    Filters,
    matches,
    parse_event,
    select_sql,
    table_names,
)
from sqlgateway.audit.report import (
    CsvWriter,
    JsonArrayWriter,
    Probes,
    TableWriter,
    TopQueries,
    clip,
    event_cells,
    parse_time,
    percentile,
    render_probes,
    render_table,
    render_top,
    short_ts,
)

NOW = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)


def event(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = dict.fromkeys(NAMES)
    base.update(
        ts=NOW.isoformat(timespec="microseconds"),
        request_id="r",
        actor="alice",
        auth_mode="api_key",
        method="POST",
        path="/query",
        tables=[],
        functions=[],
        outcome="ok",
    )
    base.update(fields)
    return base


# -- --since / --until -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("45s", NOW - timedelta(seconds=45)),
        ("30m", NOW - timedelta(minutes=30)),
        ("2h", NOW - timedelta(hours=2)),
        ("1.5h", NOW - timedelta(minutes=90)),
        ("7d", NOW - timedelta(days=7)),
        ("1w", NOW - timedelta(days=7)),
        (" 2H ", NOW - timedelta(hours=2)),
        ("2026-11-24T08:30:00Z", datetime(2026, 11, 24, 8, 30, tzinfo=UTC)),
        ("2026-11-24T08:30:00+02:00", datetime(2026, 11, 24, 6, 30, tzinfo=UTC)),
        ("2026-11-24 08:30", datetime(2026, 11, 24, 8, 30, tzinfo=UTC)),  # no offset: UTC
        ("2026-11-24", datetime(2026, 11, 24, tzinfo=UTC)),
    ],
)
def test_parse_time(text: str, expected: datetime) -> None:
    parsed = parse_time(text, NOW)
    assert parsed == expected
    assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize("text", ["yesterday", "2 hours", "-2h", "7x", "", "2026-13-01"])
def test_parse_time_refuses_anything_else(text: str) -> None:
    with pytest.raises(ValueError, match="neither a duration"):
        parse_time(text, NOW)


# -- filters and their SQL -------------------------------------------------------------------


def test_table_names_match_qualified_and_unqualified_default_schema() -> None:
    assert table_names("Claims") == ("claims", "public.claims")
    assert table_names("public.claims") == ("public.claims", "claims")
    assert table_names("hr.staff") == ("hr.staff",)


@pytest.mark.parametrize(
    ("filters", "kept"),
    [
        (Filters(), True),
        (Filters(since=NOW), True),
        (Filters(since=NOW + timedelta(microseconds=1)), False),
        (Filters(until=NOW), False),  # until is exclusive
        (Filters(until=NOW + timedelta(seconds=1)), True),
        (Filters(actor="alice"), True),
        (Filters(actor="Alice"), False),
        (Filters(outcomes=("rejected", "ok")), True),
        (Filters(outcomes=("rejected",)), False),
        (Filters(table="claims"), True),
        (Filters(table="PUBLIC.CLAIMS"), True),
        (Filters(table="policies"), False),
        (Filters(text="where STATUS"), True),
        (Filters(text="100%"), False),
        (Filters(over_ms=12.4), True),
        (Filters(over_ms=12.5), False),  # strictly above
        (Filters(actor="alice", outcomes=("ok",), table="claims", over_ms=1), True),
        (Filters(protocol="http"), True),  # an event without a protocol came over http
        (Filters(protocol="mcp"), False),
    ],
)
def test_matches(filters: Filters, kept: bool) -> None:
    e = event(
        sql_received="SELECT * FROM claims WHERE status = 'paid'",
        tables=["claims"],
        total_ms=12.5,
    )
    assert matches(e, filters) is kept


def test_mcp_events_match_their_protocol_only() -> None:
    tool_call = event(protocol="mcp", operation="run_query")
    assert matches(tool_call, Filters(protocol="mcp"))
    assert not matches(tool_call, Filters(protocol="http"))


def test_events_without_a_duration_or_time_fail_those_filters() -> None:
    assert not matches(event(total_ms=None), Filters(over_ms=0))
    assert not matches(event(ts="garbage"), Filters(since=NOW - timedelta(days=1)))
    assert matches(event(ts="garbage"), Filters())


def test_select_sql_passes_every_value_as_a_parameter() -> None:
    since = NOW - timedelta(hours=2)
    sql, params = select_sql(
        "audit",
        Filters(
            since=since,
            until=NOW,
            actor="o'brien",
            outcomes=("rejected", "forbidden"),
            table="claims",
            text="50%_off\\",
            over_ms=100.0,
        ),
        descending=True,
        limit=20,
        up_to_id=99,
    )
    assert sql == (
        'SELECT id, "ts", "request_id", "actor", "auth_mode", "db_role", "client_addr", '
        '"user_agent", "method", "path", "protocol", "operation", "parameters", '
        '"sql_received", "sql_executed", "dialect", '
        '"fingerprint", "normalized_sql", "tables", "functions", "outcome", "reason", '
        '"sqlstate", "status", "rows", "truncated", "response_chars", "guard_ms", "db_ms", '
        '"total_ms" FROM "audit".audit_events WHERE ts >= $1 AND ts < $2 AND actor = $3 '
        "AND outcome = ANY($4::text[]) AND tables && $5::text[] AND sql_received ILIKE $6 "
        "AND total_ms > $7 AND id <= $8 ORDER BY id DESC LIMIT $9"
    )
    assert params == [
        since,
        NOW,
        "o'brien",
        ["rejected", "forbidden"],
        ["claims", "public.claims"],
        "%50\\%\\_off\\\\%",
        100.0,
        99,
        20,
    ]


def test_select_sql_for_the_slowest_and_the_next_ids() -> None:
    sql, params = select_sql(
        'odd"schema', Filters(), columns=("ts", "total_ms"), order="total_ms", descending=True
    )
    assert sql == (
        'SELECT id, "ts", "total_ms" FROM "odd""schema".audit_events '
        "ORDER BY total_ms DESC NULLS LAST, id"
    )
    assert params == []
    sql, params = select_sql("a", Filters(actor="x"), columns=("ts",), after_id=5, up_to_id=9)
    assert sql.endswith("WHERE actor = $1 AND id > $2 AND id <= $3 ORDER BY id")
    assert params == ["x", 5, 9]


# -- JSON Lines files ------------------------------------------------------------------------


def test_parse_event_keys_by_names_and_refuses_non_objects() -> None:
    parsed = parse_event(b'{"ts": "2026-11-25T12:00:00+00:00", "actor": "a", "extra": 1}\n')
    assert parsed is not None
    assert list(parsed) == list(NAMES)
    assert (parsed["actor"], parsed["outcome"]) == ("a", None)
    assert parse_event(b'{"ts": "2026-11-') is None
    assert parse_event(b"[1, 2]") is None


# -- display helpers -------------------------------------------------------------------------


def test_clip_and_short_ts() -> None:
    assert clip("SELECT  *\n  FROM claims", 60) == "SELECT * FROM claims"
    assert clip("x" * 61, 60) == "x" * 59 + "…"
    assert len(clip("x" * 61, 60)) == 60
    assert clip(None, 10) == ""
    assert short_ts("2026-11-25T15:30:07.999999+00:00") == "2026-11-25 15:30:07"
    assert short_ts("2026-11-25T17:30:07+02:00") == "2026-11-25 15:30:07"
    assert short_ts(None) == ""


def test_event_cells() -> None:
    long_sql = "SELECT " + ", ".join(f"column_{i}" for i in range(20)) + " FROM claims"
    cells = event_cells(event(sql_received=long_sql, total_ms=1234.5678, rows=0))
    assert cells[:5] == ("2026-11-25 12:00:00", "alice", "ok", "1234.6", "0")
    assert len(cells[5]) == 60 and cells[5].endswith("…")
    cells = event_cells(event(method="GET", path="/schema", outcome="unauthorized"))
    assert cells[3:] == ("", "", "GET /schema")


def test_render_table_aligns_columns() -> None:
    text = render_table(("name", "n"), [("a", "1"), ("longer", "100")], frozenset({1}))
    assert text == "name      n\na         1\nlonger  100\n"


def test_table_writer_has_fixed_columns_and_says_when_empty() -> None:
    out = io.StringIO()
    writer = TableWriter(out)
    writer.write(event(sql_received="SELECT 1", total_ms=5.0, rows=1))
    writer.write(event(actor="someone.with.a.long@name.example", total_ms=12345.0, rows=10))
    writer.close()
    header, first, second = out.getvalue().splitlines()
    assert header.index("total_ms") + len("total_ms") == first.index("5.0") + len("5.0")
    assert first.index("SELECT 1") == second.index("POST /query") == header.index("sql")
    assert "someone.with.a.…" in second
    out = io.StringIO()
    empty = TableWriter(out)
    empty.close()
    assert out.getvalue().splitlines()[1] == "(no matching events)"


def test_json_array_writer() -> None:
    out = io.StringIO()
    writer = JsonArrayWriter(out)
    writer.close()
    assert json.loads(out.getvalue()) == []
    out = io.StringIO()
    writer = JsonArrayWriter(out)
    writer.write(event(request_id="a"))
    writer.write(event(request_id="b"))
    writer.close()
    assert [e["request_id"] for e in json.loads(out.getvalue())] == ["a", "b"]


def test_csv_writer_flattens_values() -> None:
    out = io.StringIO()
    writer = CsvWriter(out)
    writer.write(
        event(
            sql_received='SELECT "a,b"\nFROM t',
            tables=["public.claims", "policies"],
            truncated=True,
            rows=3,
            total_ms=1.25,
        )
    )
    writer.close()
    header, row = list(csv.reader(io.StringIO(out.getvalue())))
    assert header == list(NAMES)
    values = dict(zip(header, row, strict=True))
    assert values["sql_received"] == 'SELECT "a,b"\nFROM t'
    assert values["tables"] == "public.claims,policies"
    assert values["functions"] == ""
    assert (values["truncated"], values["rows"], values["total_ms"]) == ("true", "3", "1.25")
    assert values["reason"] == ""


# -- aggregations ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], None),
        ([7.0], 7.0),
        ([10, 20, 30, 40], 38.5),  # = percentile_cont(0.95) in PostgreSQL
        ([40, 10, 30, 20], 38.5),
        (list(range(1, 101)), 95.05),
    ],
)
def test_percentile_interpolates_like_percentile_cont(
    values: list[float], expected: float | None
) -> None:
    assert percentile(values, 0.95) == pytest.approx(expected)


def _top_events() -> list[dict[str, Any]]:
    return [
        event(fingerprint="aaa", normalized_sql="SELECT ?", total_ms=10.0, rows=1),
        event(fingerprint="aaa", normalized_sql="SELECT ?", total_ms=20.0, rows=1),
        event(fingerprint="aaa", normalized_sql="SELECT ?", total_ms=30.0, rows=None),
        event(fingerprint="bbb", normalized_sql="SELECT * FROM t", total_ms=100.0, rows=50),
        event(fingerprint="ccc", normalized_sql="SELECT x FROM t", total_ms=55.0, rows=2),
        event(fingerprint="ccc", normalized_sql="SELECT x FROM t", total_ms=None, rows=2),
        event(fingerprint=None, sql_received="SELEC", outcome="syntax_error", total_ms=999.0),
    ]


@pytest.mark.parametrize(
    ("by", "order"),
    [
        ("count", ["aaa", "ccc", "bbb"]),
        ("total", ["bbb", "aaa", "ccc"]),
        ("avg", ["bbb", "ccc", "aaa"]),
        ("p95", ["bbb", "ccc", "aaa"]),
        ("rows", ["bbb", "ccc", "aaa"]),
    ],
)
def test_top_ranks_fingerprints(by: Any, order: list[str]) -> None:
    top = TopQueries()
    for e in _top_events():
        top.add(e)
    assert [s.fingerprint for s in top.result(by, 10)] == order
    assert [s.fingerprint for s in top.result(by, 1)] == order[:1]


def test_top_statistics() -> None:
    top = TopQueries()
    for e in _top_events():
        top.add(e)
    stats = {s.fingerprint: s for s in top.result("count", 10)}
    a = stats["aaa"]
    assert (a.count, a.total_ms, a.avg_ms, a.p95_ms, a.rows) == (3, 60.0, 20.0, 29.0, 2)
    assert a.normalized_sql == "SELECT ?"
    c = stats["ccc"]
    assert (c.count, c.total_ms, c.avg_ms, c.p95_ms, c.rows) == (2, 55.0, 55.0, 55.0, 4)


def test_top_ties_by_fingerprint_and_renders() -> None:
    top = TopQueries()
    for fingerprint in ("zzz", "mmm", "aaa"):
        top.add(event(fingerprint=fingerprint, normalized_sql="SELECT 1", total_ms=1.0, rows=1))
    stats = top.result("count", 10)
    assert [s.fingerprint for s in stats] == ["aaa", "mmm", "zzz"]
    table = render_top(stats, "table").splitlines()
    assert table[0].split() == [
        "fingerprint",
        "count",
        "total_ms",
        "avg_ms",
        "p95_ms",
        "rows",
        "normalized_sql",
    ]
    assert table[1].split() == ["aaa", "1", "1.0", "1.0", "1.0", "1", "SELECT", "1"]
    rows = list(csv.DictReader(io.StringIO(render_top(stats, "csv"))))
    assert rows[0] == {
        "fingerprint": "aaa",
        "count": "1",
        "total_ms": "1.0",
        "avg_ms": "1.0",
        "p95_ms": "1.0",
        "rows": "1",
        "normalized_sql": "SELECT 1",
    }
    assert json.loads(render_top(stats, "json"))[2]["fingerprint"] == "zzz"
    assert render_top([], "table") == "(no queries)\n"
    assert render_top([], "csv").startswith("fingerprint,count,")


def _probe_events() -> list[dict[str, Any]]:
    t = NOW.isoformat(timespec="microseconds")
    earlier = (NOW - timedelta(hours=1)).isoformat(timespec="microseconds")
    later = (NOW + timedelta(hours=1)).isoformat(timespec="microseconds")
    return [
        event(actor="mallory", outcome="rejected", reason="DELETE is not allowed", ts=t),
        event(actor="mallory", outcome="rejected", reason="relation x is not allowed", ts=later),
        event(actor="mallory", outcome="forbidden", reason="DELETE is not allowed", ts=earlier),
        event(actor="mallory", outcome="syntax_error", reason="syntax error", ts=t),
        event(actor="mallory", outcome="rate_limited", reason=None, ts=t),
        event(actor="eve", outcome="unauthorized", reason="wrong API key", ts=t),
        event(actor="bob", outcome="unauthorized", reason="wrong API key", ts=t),
    ]


def test_probes_group_by_actor() -> None:
    probes = Probes()
    for e in _probe_events():
        probes.add(e)
    result = probes.result(10)
    assert [(p.actor, p.events) for p in result] == [("mallory", 5), ("bob", 1), ("eve", 1)]
    mallory = result[0]
    assert mallory.outcomes == {
        "rejected": 2,
        "forbidden": 1,
        "rate_limited": 1,
        "syntax_error": 1,
    }
    assert list(mallory.outcomes) == ["rejected", "forbidden", "rate_limited", "syntax_error"]
    assert mallory.reasons == [
        ("DELETE is not allowed", 2),
        ("relation x is not allowed", 1),
        ("syntax error", 1),
    ]
    assert mallory.first_seen == (NOW - timedelta(hours=1)).isoformat(timespec="microseconds")
    assert mallory.last_seen == (NOW + timedelta(hours=1)).isoformat(timespec="microseconds")
    assert [p.actor for p in probes.result(1)] == ["mallory"]


def test_probes_render() -> None:
    probes = Probes()
    for e in _probe_events():
        probes.add(e)
    result = probes.result(10)
    table = render_probes(result, "table").splitlines()
    assert table[0].split() == [
        "actor",
        "events",
        "outcomes",
        "first_seen",
        "last_seen",
        "top_reasons",
    ]
    assert table[1].startswith("mallory       5  rejected 2, forbidden 1, rate_limited 1")
    assert table[1].endswith("DELETE is not allowed (2); relation x is not allowed (1); s…")
    first = json.loads(render_probes(result, "json"))[0]
    assert first["reasons"][0] == {"reason": "DELETE is not allowed", "count": 2}
    assert first["outcomes"]["rejected"] == 2
    rows = list(csv.DictReader(io.StringIO(render_probes(result, "csv"))))
    assert rows[0]["outcomes"] == "rejected=2 forbidden=1 rate_limited=1 syntax_error=1"
    assert rows[0]["reasons"].startswith("2× DELETE is not allowed | 1× relation x")
    assert rows[2] == {
        "actor": "eve",
        "events": "1",
        "outcomes": "unauthorized=1",
        "reasons": "1× wrong API key",
        "first_seen": NOW.isoformat(timespec="microseconds"),
        "last_seen": NOW.isoformat(timespec="microseconds"),
    }
    assert render_probes([], "table") == "(no refused requests)\n"


def test_a_request_id_selects_one_event() -> None:
    from sqlgateway.audit.read import Filters, matches, where_sql

    event = {"request_id": "a" * 32, "ts": "2026-11-25T10:00:00.000000+00:00"}
    assert matches(event, Filters(request_id="a" * 32))
    assert not matches(event, Filters(request_id="b" * 32))
    params: list[object] = []
    assert where_sql(Filters(request_id="a" * 32), params) == ["request_id = $1"]
    assert params == ["a" * 32]
