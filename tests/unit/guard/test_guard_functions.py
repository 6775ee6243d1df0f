"""functions.py and safe_functions.py alone, and function calls through check_sql."""

from __future__ import annotations

import pytest
from sqlglot import exp

from sqlgateway.errors import RejectedError
from sqlgateway.guard import GuardPolicy, check_sql
from sqlgateway.guard.functions import check_function, refusal_hint
from sqlgateway.guard.safe_functions import REFUSAL_HINTS, SAFE_FUNCTIONS, TYPED_FUNCTIONS

#: Functions that must never be on the safe list, each a family of side effects or leaks.
DANGEROUS = [
    "set_config",
    "current_setting",
    "pg_sleep",
    "pg_sleep_for",
    "pg_sleep_until",
    "pg_advisory_lock",
    "pg_advisory_xact_lock",
    "pg_try_advisory_lock",
    "pg_advisory_unlock_all",
    "lo_import",
    "lo_export",
    "lo_create",
    "lo_from_bytea",
    "lo_put",
    "lo_get",
    "lo_unlink",
    "lo_open",
    "loread",
    "lowrite",
    "pg_read_file",
    "pg_read_binary_file",
    "pg_ls_dir",
    "pg_stat_file",
    "pg_ls_logdir",
    "pg_ls_waldir",
    "pg_ls_tmpdir",
    "pg_file_write",
    "dblink",
    "dblink_exec",
    "dblink_connect",
    "pg_notify",
    "pg_terminate_backend",
    "pg_cancel_backend",
    "pg_logical_emit_message",
    "pg_switch_wal",
    "pg_promote",
    "pg_create_restore_point",
    "pg_create_logical_replication_slot",
    "pg_create_physical_replication_slot",
    "pg_drop_replication_slot",
    "pg_backup_start",
    "pg_backup_stop",
    "pg_wal_replay_pause",
    "nextval",
    "setval",
    "currval",
    "lastval",
    "pg_stat_reset",
    "pg_stat_reset_shared",
    "pg_reload_conf",
    "pg_rotate_logfile",
    "query_to_xml",
    "table_to_xml",
    "cursor_to_xml",
    "query_to_xmlschema",
    "database_to_xml",
    "schema_to_xml",
    "ts_stat",
    "ts_rewrite",
    "txid_current",
    "txid_current_if_assigned",
    "pg_current_xact_id",
    "setseed",
    "pg_get_viewdef",
    "pg_get_functiondef",
    "obj_description",
    "pg_import_system_collations",
    "pg_log_backend_memory_contexts",
    "pg_replication_origin_create",
    "xpath",
]

SAFE_CALLS = [
    "count(*)",
    "sum(premium_cents)",
    "avg(premium_cents) FILTER (WHERE status = 'active')",
    "string_agg(product, ',' ORDER BY product)",
    "percentile_cont(0.5) WITHIN GROUP (ORDER BY 1)",
    "row_number() OVER ()",
    "lag(premium_cents, 1, 0) OVER (ORDER BY policy_id)",
    "round(premium_cents / 100.0, 2)",
    "abs(-1)",
    "greatest(1, 2)",
    "coalesce(status, 'x')",
    "nullif(status, '')",
    "lower(product)",
    "upper(product)",
    "substring(product FROM 1 FOR 2)",
    "regexp_replace(product, 'a', 'b', 'g')",
    "split_part(policy_number, '-', 2)",
    "format('%s-%s', product, status)",
    "concat_ws('/', product, status)",
    "now()",
    "current_date",
    "date_trunc('month', start_date)",
    "extract(year FROM start_date)",
    "date_part('dow', start_date)",
    "age(end_date, start_date)",
    "make_date(2024, 1, 1)",
    "to_char(start_date, 'YYYY-MM')",
    "to_date('2024-01-01', 'YYYY-MM-DD')",
    "to_timestamp(0)",
    "jsonb_build_object('a', 1)",
    "jsonb_path_exists('{}'::jsonb, '$.a')",
    "json_agg(product)",
    "jsonb_agg(product)",
    "array_agg(product)",
    "unnest(ARRAY[1, 2])",
    "generate_series(1, 3)",
    "cardinality(ARRAY[1])",
    "random()",
    "gen_random_uuid()",
    "md5(product)",
    "pg_typeof(product)",
    "current_user",
    "version()",
    "to_hex(255)",
    "trim(both ' ' FROM product)",
    "position('a' IN product)",
    "overlay(product PLACING 'x' FROM 1)",
    "initcap(product)",
    "ceil(1.5)",
    "floor(1.5)",
    "chr(65)",
    "normalize(product)",
    "pg_catalog.lower(product)",
    "PG_CATALOG.upper(product)",
    '"lower"(product)',
    "Lower(product)",
]


@pytest.mark.parametrize("name", DANGEROUS)
def test_dangerous_functions_are_not_safe(name: str) -> None:
    assert name not in SAFE_FUNCTIONS
    with pytest.raises(RejectedError) as caught:
        check_sql(f"SELECT {name}(1)", GuardPolicy())
    assert caught.value.construct == f"function {name}"
    assert caught.value.message == f"function {name} is not allowed"


@pytest.mark.parametrize("call", SAFE_CALLS)
def test_safe_calls_are_accepted(call: str) -> None:
    check_sql(f"SELECT {call} FROM policies", GuardPolicy())


def test_safe_names_are_folded_words() -> None:
    assert all(name.isidentifier() and name == name.lower() for name in SAFE_FUNCTIONS)
    assert len(SAFE_FUNCTIONS) > 300


@pytest.mark.parametrize("name", sorted(SAFE_FUNCTIONS))
def test_every_safe_name_passes_the_rule(name: str) -> None:
    assert check_function(exp.Anonymous(this=name), GuardPolicy()) == name


@pytest.mark.parametrize(
    ("sql", "name"),
    [
        ("SELECT ceil(1.5)", "ceil"),
        ("SELECT floor(1.5)", "floor"),
        ("SELECT chr(65)", "chr"),
        ("SELECT 'a' 'b'", "concat"),
        ("SELECT current_date", "current_date"),
        ("SELECT current_time(3)", "current_time"),
        ("SELECT localtimestamp(0)", "localtimestamp"),
        ("SELECT current_timestamp", "current_timestamp"),
        ("SELECT current_user", "current_user"),
        ("SELECT current_catalog", "current_catalog"),
        ("SELECT current_schema", "current_schema"),
        ("SELECT session_user", "session_user"),
        ("SELECT localtime", "localtime"),
        ("SELECT localtimestamp", "localtimestamp"),
        ("SELECT decode('ff', 'hex')", "decode"),
        ("SELECT extract(year FROM now())", "extract"),
        ("SELECT date_part('year', now())", "extract"),
        ("SELECT string_agg(x, ',') FROM t", "string_agg"),
        ("SELECT initcap('a')", "initcap"),
        ("SELECT json_agg(x) FROM t", "json_agg"),
        ("SELECT JSON_OBJECT('a' : 1)", "json_object"),
        ("SELECT JSON_VALUE('{}'::jsonb, '$.a')", "json_value"),
        ("SELECT normalize('a')", "normalize"),
        ("SELECT overlay('a' PLACING 'b' FROM 1)", "overlay"),
        ("SELECT 2 ^ 3", "power"),
        ("SELECT |/ 16", "sqrt"),
        ("SELECT position('a' IN 'b')", "position"),
        ("SELECT substring('abc' FROM 2)", "substring"),
        ("SELECT trim(' a ')", "trim"),
        ("SELECT * FROM unnest(ARRAY[1]) AS u(x)", "unnest"),
    ],
)
def test_typed_function_classes_are_named_as_rendered(sql: str, name: str) -> None:
    verdict = check_sql(sql, GuardPolicy())
    assert name in verdict.functions
    assert name in verdict.sql.lower()
    assert check_sql(verdict.sql, GuardPolicy()).functions == verdict.functions


def test_every_typed_function_class_is_covered_by_a_test() -> None:
    covered = {
        "ceil",
        "floor",
        "chr",
        "concat",
        "current_date",
        "current_timestamp",
        "current_user",
        "current_catalog",
        "current_schema",
        "session_user",
        "localtime",
        "localtimestamp",
        "decode",
        "extract",
        "string_agg",
        "initcap",
        "json_agg",
        "json_object",
        "json_value",
        "normalize",
        "overlay",
        "power",
        "sqrt",
        "position",
        "substring",
        "trim",
        "unnest",
    }
    assert set(TYPED_FUNCTIONS.values()) == covered


@pytest.mark.parametrize(
    ("sql", "construct"),
    [
        ("SELECT public.lower('a')", "function public.lower"),
        ("SELECT evil.now()", "function evil.now"),
        ("SELECT \"PG_CATALOG\".lower('a')", "function PG_CATALOG.lower"),
        ("SELECT \"LOWER\"('a')", "function LOWER"),
        ('SELECT "pg_sleep"(1)', "function pg_sleep"),
        ("SELECT * FROM public.generate_series(1, 2)", "function public.generate_series"),
        ("SELECT x.ceil(1.5)", "function x.ceil"),
        ("SELECT db.pg_catalog.lower('a')", "qualified function call"),
        ("SELECT * FROM db.pg_catalog.generate_series(1, 2)", "qualified function call"),
    ],
)
def test_qualified_and_quoted_calls(sql: str, construct: str) -> None:
    with pytest.raises(RejectedError) as caught:
        check_sql(sql, GuardPolicy())
    assert caught.value.construct == construct


def test_extra_functions_by_qualified_name() -> None:
    policy = GuardPolicy(extra_functions=frozenset({"Public.Fiscal_Quarter"}))
    verdict = check_sql("SELECT public.fiscal_quarter(reported_at) FROM claims", policy)
    assert verdict.functions == ("public.fiscal_quarter",)
    with pytest.raises(RejectedError):
        check_sql("SELECT fiscal_quarter(reported_at) FROM claims", policy)
    with pytest.raises(RejectedError):
        check_sql("SELECT other.fiscal_quarter(reported_at) FROM claims", policy)


def test_extra_functions_by_bare_name_allow_only_bare_calls() -> None:
    policy = GuardPolicy(extra_functions=frozenset({"fiscal_quarter"}))
    assert check_sql("SELECT fiscal_quarter(1)", policy).functions == ("fiscal_quarter",)
    with pytest.raises(RejectedError):
        check_sql("SELECT public.fiscal_quarter(1)", policy)


def test_extra_functions_can_allow_a_refused_builtin() -> None:
    policy = GuardPolicy(extra_functions=frozenset({"current_setting"}))
    verdict = check_sql("SELECT current_setting('TimeZone')", policy)
    assert verdict.functions == ("current_setting",)
    with pytest.raises(RejectedError):
        check_sql("SELECT pg_catalog.current_setting('TimeZone')", policy)
    qualified = GuardPolicy(extra_functions=frozenset({"pg_catalog.current_setting"}))
    check_sql("SELECT pg_catalog.current_setting('TimeZone')", qualified)


def test_bare_current_time_is_refused_with_a_rewrite() -> None:
    with pytest.raises(RejectedError) as caught:
        check_sql("SELECT current_time", GuardPolicy())
    assert "LOCALTIME" in (caught.value.hint or "")


def test_table_functions_are_functions_not_relations() -> None:
    verdict = check_sql(
        "SELECT * FROM generate_series(1, 3) AS g(i), jsonb_each('{}'::jsonb) AS e",
        GuardPolicy(),
    )
    assert verdict.tables == ()
    assert verdict.functions == ("generate_series", "jsonb_each")


@pytest.mark.parametrize(
    ("name", "schema", "fragment"),
    [
        ("set_config", None, "settings"),
        ("pg_sleep", None, "pause"),
        ("pg_advisory_lock", None, "lock"),
        ("lo_import", None, "large-object"),
        ("pg_read_file", None, "file"),
        ("dblink", None, "other databases"),
        ("query_to_xml", None, "SQL given as a string"),
        ("nextval", None, "sequence"),
        ("txid_current", None, "transaction ids"),
        ("pg_notify", None, "notification"),
        ("pg_terminate_backend", None, "administration"),
        ("my_function", None, "safe list"),
        ("my_function", "public", "user-defined"),
        ("lower", "pg_catalog", "safe list"),
    ],
)
def test_refusal_hints_say_what_to_do(name: str, schema: str | None, fragment: str) -> None:
    assert fragment in refusal_hint(name, schema)


def test_hint_prefixes_never_match_a_safe_name() -> None:
    prefixes = [prefix for group, _ in REFUSAL_HINTS for prefix in group]
    assert not [name for name in SAFE_FUNCTIONS if name.startswith(tuple(prefixes))]
