"""nodes.py alone: the node allowlist, how refused nodes are named, verbatim text checks."""

from __future__ import annotations

import pytest
from sqlglot import exp

from sqlgateway.errors import RejectedError
from sqlgateway.guard import GuardPolicy, check_sql
from sqlgateway.guard.nodes import ALLOWED_NODES, NODE_CHECKS, refuse_node

NEVER_ALLOWED = [
    exp.Insert,
    exp.Update,
    exp.Delete,
    exp.Merge,
    exp.Into,
    exp.Lock,
    exp.Command,
    exp.Set,
    exp.SetItem,
    exp.Transaction,
    exp.Commit,
    exp.Rollback,
    exp.Copy,
    exp.Create,
    exp.Drop,
    exp.Alter,
    exp.TruncateTable,
    exp.Grant,
    exp.Revoke,
    exp.Comment,
    exp.Analyze,
    exp.Describe,
    exp.Placeholder,
    exp.Parameter,
    exp.UnicodeString,
    exp.Pragma,
    exp.Use,
    exp.Cache,
    exp.Uncache,
    exp.LoadData,
    exp.Kill,
]


@pytest.mark.parametrize("kind", NEVER_ALLOWED, ids=lambda kind: kind.__name__)
def test_statement_and_side_effect_classes_are_not_allowed(kind: type[exp.Expr]) -> None:
    assert kind not in ALLOWED_NODES


def test_allowlist_holds_only_expression_classes() -> None:
    assert all(issubclass(kind, exp.Expr) for kind in ALLOWED_NODES)
    assert exp.Expr not in ALLOWED_NODES and exp.Func not in ALLOWED_NODES


@pytest.mark.parametrize(
    ("sql", "construct"),
    [
        ("SELECT * INTO t FROM claims", "SELECT INTO"),
        ("SELECT * FROM claims FOR UPDATE", "locking clause (FOR UPDATE / FOR SHARE)"),
        ("SELECT * FROM claims FOR KEY SHARE", "locking clause (FOR UPDATE / FOR SHARE)"),
        ("SELECT $1", "query parameter"),
        ("SELECT :name", "query parameter"),
        ("WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", "DELETE in WITH"),
        ("WITH d AS (UPDATE t SET a = 1 RETURNING *) SELECT * FROM d", "UPDATE in WITH"),
        ("WITH d AS (INSERT INTO t VALUES (1) RETURNING *) SELECT * FROM d", "INSERT in WITH"),
    ],
)
def test_refused_nodes_are_named(sql: str, construct: str) -> None:
    with pytest.raises(RejectedError) as caught:
        check_sql(sql, GuardPolicy())
    assert caught.value.construct == construct
    assert caught.value.message == f"{construct} is not allowed"
    assert caught.value.hint


def test_unknown_classes_are_named_by_class() -> None:
    error = refuse_node(exp.Pragma(this=exp.Var(this="x")))
    assert error.construct == "Pragma"
    assert "allowlist" in (error.hint or "")


def test_command_nodes_are_named_by_their_keyword() -> None:
    error = refuse_node(exp.Command(this="VACUUM", expression=exp.Literal.string("x")))
    assert error.construct == "VACUUM"


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT date_part('year; DROP TABLE claims; --', now())",
        "SELECT date_part('year FROM pg_sleep(1)) + extract(year', now())",
        'SELECT extract("weird; word" FROM now())',
    ],
)
def test_text_written_back_verbatim_must_be_a_plain_word(sql: str) -> None:
    with pytest.raises(RejectedError) as caught:
        check_sql(sql, GuardPolicy())
    assert caught.value.construct.startswith("keyword")


@pytest.mark.parametrize(
    ("node", "ok"),
    [
        (exp.Var(this="EPOCH"), True),
        (exp.Var(this="YEAR FROM x"), False),
        (exp.Literal.number("1.5e3"), True),
        (exp.Literal(this="1); DROP", is_string=False), False),
        (exp.Literal.string("anything; at all"), True),
        (exp.Identifier(this="claims", quoted=False), True),
        (exp.Identifier(this="état_2$", quoted=False), True),
        (exp.Identifier(this="a b", quoted=False), False),
        (exp.Identifier(this="a b", quoted=True), True),
        (exp.HexString(this="1F"), True),
        (exp.HexString(this="1F", is_integer=True), False),
        (exp.HexString(this="1' || x"), False),
        (exp.BitString(this="0101"), True),
        (exp.BitString(this="01'2"), False),
        (exp.ByteString(this="tab\there"), True),
        (exp.ByteString(this="vertical\vtab"), False),
    ],
)
def test_node_checks(node: exp.Expr, ok: bool) -> None:
    check = NODE_CHECKS[type(node)]
    if ok:
        check(node)
    else:
        with pytest.raises(RejectedError):
            check(node)


@pytest.mark.parametrize("number", ["0x1F", "0X1f", "0b101", "0o17", "1_000", "12abc"])
def test_numbers_sqlglot_would_misread_are_refused(number: str) -> None:
    with pytest.raises(RejectedError) as caught:
        check_sql(f"SELECT {number}", GuardPolicy())
    assert caught.value.construct == "number literal"
    assert number in caught.value.message


@pytest.mark.parametrize("sql", ["SELECT X'1F', B'101', 1.5e3, .5, 5., 1::int, x[1:2] FROM t"])
def test_ordinary_numbers_and_bit_strings_pass(sql: str) -> None:
    check_sql(sql, GuardPolicy())


@pytest.mark.parametrize(
    ("sql", "ok"),
    [
        ("SELECT * FROM claims TABLESAMPLE SYSTEM (10)", True),
        ("SELECT * FROM claims TABLESAMPLE bernoulli (10) REPEATABLE (7)", True),
        ("SELECT * FROM claims TABLESAMPLE SYSTEM_TIME (1000)", False),
        ("SELECT * FROM claims TABLESAMPLE my_sampler (1)", False),
    ],
)
def test_tablesample_methods_are_built_ins(sql: str, ok: bool) -> None:
    if ok:
        check_sql(sql, GuardPolicy())
    else:
        with pytest.raises(RejectedError) as caught:
            check_sql(sql, GuardPolicy())
        assert caught.value.construct.startswith("TABLESAMPLE ")


def test_nodes_the_walk_notes_are_allowed_nodes() -> None:
    # the walk notes these instead of looking them up in the allowlist: each must be on it,
    # or noting one would let a node through that the allowlist refuses
    from sqlgateway.guard.literals import COMPARISON_NODES, KEY_READS
    from sqlgateway.guard.nodes import ALLOWED_NODES
    from sqlgateway.guard.pitfalls import PITFALL_NODES

    assert COMPARISON_NODES | KEY_READS | PITFALL_NODES <= ALLOWED_NODES
