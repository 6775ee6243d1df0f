"""compile.py: :name → $n among the tokens, the guard with bind parameters, the settings; a
problem stops the gateway naming file, line, query and reason."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from named_queries import STATUS_QUERY, compiled, write_queries

from sqlgateway.app import create_app
from sqlgateway.catalog.schema_docs import SchemaDocsError, load_schema_docs
from sqlgateway.named.compile import NamedQueryError, compile_queries
from sqlgateway.named.docs import QueryDoc
from sqlgateway.settings import Settings

OAUTH = {
    "auth": "oauth",
    "oauth_issuer": "https://idp.example/",
    "oauth_audience": "api",
    "oauth_jwks_url": "https://idp.example/jwks",
}


def query(sql: str, **parameters: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "q",
        "description": "d",
        "sql": sql,
        "parameters": {name: {"description": "d", **p} for name, p in parameters.items()},
    }


def test_parameters_become_typed_bind_parameters_in_declaration_order(tmp_path: Path) -> None:
    (named,) = compiled(
        tmp_path,
        query(
            "SELECT ':b' AS text, x::date FROM t -- :c\n"
            "WHERE a = :a AND b = :b AND c > :c AND (:a IS NULL OR d = :a) /* :zz */",
            c={"type": "integer"},
            a={"type": "string"},
            b={"type": "date"},
        ),
    )
    assert named.order == ("c", "a", "b")
    sql = named.sql
    assert "':b'" in sql and "CAST(x AS DATE)" in sql  # strings and casts left alone
    assert "a = CAST($2 AS TEXT) AND b = CAST($3 AS DATE) AND c > CAST($1 AS BIGINT)" in sql
    assert "CAST($2 AS TEXT) IS NULL OR d = CAST($2 AS TEXT)" in sql
    assert ":" not in sql.replace("':b'", "")  # comments keep their text elsewhere, if at all
    assert named.verdict.tables == ("t",)


@pytest.mark.parametrize(
    ("sql", "parameters", "why"),
    [
        ("SELECT :a, :b", {"a": {"type": "string"}}, "the SQL uses :b, not declared"),
        (
            "SELECT 1",
            {"a": {"type": "string"}},
            "parameter(s) a declared but never used",
        ),
        ("SELECT $1", {}, "write parameters as :name, not '$1'"),
        (
            "SELECT * FROM claims ORDER BY :sort",
            {"sort": {"type": "string"}},
            "the guard refuses it: parameter :sort stands for a sort key",
        ),
        (
            "SELECT * FROM :tbl",
            {"tbl": {"type": "string"}},
            "the guard refuses it",
        ),
        (
            "DELETE FROM claims WHERE claim_id = :id",
            {"id": {"type": "integer"}},
            "the guard refuses it: DELETE is not allowed",
        ),
        (
            "SELECT pg_sleep(:s)",
            {"s": {"type": "number"}},
            "the guard refuses it: function pg_sleep",
        ),
        (
            "SELECT * FROM claims WHERE claim_number = :n; DROP TABLE claims",
            {"n": {"type": "string"}},
            "multiple statements",
        ),
        ("SELECT * FROM claims WHERE", {}, "the guard refuses it: syntax error"),
    ],
)
def test_a_bad_query_stops_the_start_naming_file_line_query_and_reason(
    tmp_path: Path, sql: str, parameters: dict[str, Any], why: str
) -> None:
    directory = write_queries(tmp_path, query(sql, **parameters))
    with pytest.raises(NamedQueryError) as info:
        compile_queries(load_schema_docs(directory), Settings())
    (problem,) = info.value.problems
    assert problem.startswith(f"{directory / 'db.yaml'}:")
    assert ": query q: " in problem and why in problem, problem


def test_the_line_is_the_query_s_sql(tmp_path: Path) -> None:
    good = copy.deepcopy(STATUS_QUERY)
    bad = query("SELECT * FROM pg_authid")
    directory = write_queries(tmp_path, good, bad)
    lines = (directory / "db.yaml").read_text().splitlines()
    sql_line = next(i for i, line in enumerate(lines, 1) if "pg_authid" in line)
    with pytest.raises(NamedQueryError) as info:
        compile_queries(load_schema_docs(directory), Settings())
    assert info.value.problems[0].startswith(f"{directory / 'db.yaml'}:{sql_line}: query q:")


def test_guard_settings_apply(tmp_path: Path) -> None:
    with pytest.raises(NamedQueryError, match="claims is not allowed"):
        compiled(tmp_path, STATUS_QUERY, allowed_tables="public.policies")


def test_a_timeout_can_only_lower_the_global_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (lower,) = compiled(tmp_path, {**STATUS_QUERY, "timeout_ms": 24_999})
    assert lower.timeout_ms == 24_999
    (same,) = compiled(tmp_path, {**STATUS_QUERY, "timeout_ms": 25_000})
    assert same.timeout_ms is None
    assert "timeout_ms 25000 has no effect" in caplog.text


def test_names_are_unique_across_files(tmp_path: Path) -> None:
    write_queries(tmp_path, STATUS_QUERY, name="a.yaml")
    write_queries(tmp_path, STATUS_QUERY, name="b.yaml")
    with pytest.raises(NamedQueryError, match="query getClaimStatus: also defined in"):
        compile_queries(load_schema_docs(tmp_path), Settings())


def _claim_bound() -> dict[str, Any]:
    return query(
        "SELECT :sub AS me",
        sub={"type": "string", "identity": "claim:sub"},
    ) | {"name": "whoAmI"}


def test_claim_bound_queries_are_served_with_oauth_only(tmp_path: Path) -> None:
    with_keys = compiled(tmp_path, STATUS_QUERY, _claim_bound())
    assert with_keys.names == ("getClaimStatus",)
    assert "SQLGATEWAY_AUTH=api_key gives no claims" in with_keys.unavailable["whoAmI"]
    assert set(with_keys.compiled) == {"getClaimStatus", "whoAmI"}
    with_oauth = compiled(tmp_path, STATUS_QUERY, _claim_bound(), **OAUTH)
    assert with_oauth.names == ("getClaimStatus", "whoAmI")
    actor_bound = query("SELECT :who", who={"type": "string", "identity": "actor"})
    assert compiled(tmp_path, actor_bound).names == ("q",)


def _many(count: int) -> list[dict[str, Any]]:
    return [{**STATUS_QUERY, "name": f"q{i}"} for i in range(count)]


def test_past_30_operations_the_gateway_does_not_start(tmp_path: Path) -> None:
    assert len(compiled(tmp_path, *_many(28))) == 28  # + runQuery + getSchema = 30
    with pytest.raises(NamedQueryError, match="29 named queries make 31 operations"):
        compiled(tmp_path, *_many(29))
    assert len(compiled(tmp_path, *_many(29), free_sql=False)) == 29  # no runQuery
    with pytest.raises(NamedQueryError, match="remove 1 named queries"):
        compiled(tmp_path, *_many(30), free_sql=False)


def test_locked_down_mode_needs_named_queries(tmp_path: Path) -> None:
    with pytest.raises(NamedQueryError, match="SQLGATEWAY_FREE_SQL=false serves named"):
        compile_queries(None, Settings(free_sql=False))
    assert len(compile_queries(None, Settings())) == 0


def test_the_app_is_not_created_with_a_bad_query(tmp_path: Path) -> None:
    write_queries(tmp_path, query("SELECT * FROM pg_authid"))
    settings = Settings(
        api_keys="k:sha256:" + "0" * 64,
        database_url="postgresql://x@127.0.0.1:1/x",
        schema_docs_dir=tmp_path,
    )
    with pytest.raises(SchemaDocsError, match="query q: the guard refuses it"):
        create_app(settings)


def test_the_demo_queries_compile() -> None:
    from sqlgateway.demo.files import demo_docs_dir

    docs = load_schema_docs(demo_docs_dir())
    named = compile_queries(docs, Settings(**OAUTH))
    assert named.names == (
        "getClaimStatus",
        "getClaimHistory",
        "getPolicyClaims",
        "getMyOpenClaims",
        "getAdjusterWorkload",
    )
    assert all(isinstance(q.doc, QueryDoc) and "$1" in q.sql for q in named)
