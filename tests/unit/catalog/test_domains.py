"""Value domains from what the catalog knows, and the spelling meant by a literal outside."""

from __future__ import annotations

import pytest
from demo_catalog import any_of, demo_catalog

from sqlgateway.catalog.domains import Domain, Miss, check_domain, domain_of
from sqlgateway.catalog.spelling import case_of, like_regex, ranked_values, reformat, shape_of

CATALOG = demo_catalog()


def domain(table: str, column: str) -> Domain:
    found = CATALOG.columns_by_relation[table][column].domain
    assert found is not None, (table, column)
    return found


@pytest.mark.parametrize(
    ("expression", "values", "pattern"),
    [
        (any_of("region", ("a", "b")), ("a", "b"), None),
        (
            "((kind)::text = ANY ((ARRAY['a'::character varying, 'b'::character varying])::text[]))",
            ("a", "b"),
            None,
        ),
        ("(kind = 'only'::text)", ("only",), None),
        ("(kind ~ '^X-[0-9]+$'::text)", (), "^X-[0-9]+$"),
        ("((kind ~ '^[A-Z]+$'::text) AND (length(kind) < 5))", (), "^[A-Z]+$"),
        ("(kind ~~ 'a%'::text)", (), None),
        ("((kind = 'a'::text) OR (kind = 'b'::text))", (), None),  # not recognised: no domain
        ("(other = ANY (ARRAY['a'::text]))", (), None),  # another column
        ("not sql at all (", (), None),
    ],
)
def test_check_constraints_give_values_or_a_pattern(
    expression: str, values: tuple[str, ...], pattern: str | None
) -> None:
    assert check_domain(expression, "region" if "region" in expression else "kind") == (
        values,
        pattern,
    )


def test_the_strongest_source_wins() -> None:
    made = domain_of(
        column="c",
        enum_values=("x", "y"),
        checks=(any_of("c", ("p",)),),
        allowed_values={"x": "the x"},
        examples=(),
    )
    assert made is not None and made.values == ("x", "y") and made.source == "enum labels"
    assert made.meanings == ("the x", "")
    assert domain_of(column="c", enum_values=(), checks=(), allowed_values={}, examples=[1]) is None


@pytest.mark.parametrize(
    ("table", "column", "value", "fix"),
    [
        ("claims", "status", "Approved", "approved"),
        ("claims", "status", "under review", "under_review"),
        ("claims", "status", "in_review", "under_review"),
        ("claims", "loss_type", "Water Damage", "water_damage"),
        ("claims", "loss_type", "flood", None),
        ("policies", "product", "car", "auto"),  # its meaning: "car insurance"
        ("policies", "product", "homeowners", "home"),
        ("policies", "status", "canceled", "cancelled"),
        ("payments", "method", "bank transfer", "ach"),
        ("payments", "method", "credit_card", "card"),
        ("claim_events", "event_type", "payment", "payment_issued"),
        ("claims", "claim_number", "CLM-123", "CLM-0000123"),
        ("claims", "claim_number", "clm-0000123", "CLM-0000123"),
        ("claims", "claim_number", "CLM123", "CLM-0000123"),
        ("claims", "claim_number", "123", "CLM-0000123"),
        ("policies", "policy_number", "POL-42", "POL-0000042"),
        ("policyholders", "state", "ca", "CA"),
        ("policyholders", "state", "Arizona", "AZ"),  # its meaning: "Arizona"
        ("policyholders", "state", "New York", "NY"),  # not 'OR', which 'new york' contains
        ("claim_events", "event_type", "paid", "payment_issued"),
        ("policyholders", "city", "Phoenix, AZ", "Phoenix"),
        ("policyholders", "city", "new york", "New York"),
        ("policyholders", "full_name", "EMILY WILLIAMS", "Emily Williams"),
    ],
)
def test_a_value_outside_names_the_spelling_meant(
    table: str, column: str, value: str, fix: str | None
) -> None:
    assert domain(table, column).miss(value, "=") == Miss(value, fix)


@pytest.mark.parametrize(
    ("table", "column", "value"),
    [
        ("claims", "status", "approved"),
        ("claims", "claim_number", "CLM-0000123"),
        ("claims", "claim_number", "CLM-12345678"),  # the pattern allows more digits
        ("policyholders", "state", "AZ"),
        ("policyholders", "city", "Boston"),  # not an example, but written like them
        ("policyholders", "city", "Salt Lake City"),
    ],
)
def test_values_inside_are_accepted(table: str, column: str, value: str) -> None:
    assert domain(table, column).miss(value, "=") is None
    assert domain(table, column).miss(value, "<>") is None


def test_like_patterns_are_checked_against_listed_values() -> None:
    loss = domain("claims", "loss_type")
    assert loss.miss("water%", "like") is None
    assert loss.miss("%flood%", "like") == Miss("%flood%", None)
    assert loss.miss("Water%", "like") == Miss("Water%", "ILIKE")
    assert loss.miss("Water%", "ilike") is None
    assert domain("claims", "claim_number").miss("XYZ%", "like") is None  # no list: no say


def test_orderings_can_always_match() -> None:
    assert domain("claims", "status").miss("zzz", ">") is None


def test_sensitive_columns_have_no_domain() -> None:
    email = CATALOG.columns_by_relation["policyholders"]["email"]
    assert email.sensitive and email.checks and email.domain is None


def test_shapes_cases_and_reformatting() -> None:
    assert shape_of("CLM-0000123") == "A3-97"
    assert case_of("New York") == "title" and case_of("AZ") == "upper" and case_of("x1") == "lower"
    assert case_of("McDonald's van Dyke") is None and case_of("42") is None
    assert reformat("clm 7", lambda v: v == "CLM-0000007", ("CLM-0000001",)) == "CLM-0000007"
    assert reformat("abc", lambda v: False) is None
    # several numbers are not joined into an id nobody wrote
    pattern = Domain(pattern="^CLM-[0-9]{7,}$", examples=("CLM-0000001",))
    assert reformat("CLM-2025-000123", pattern.accepts, pattern.examples) is None
    assert ranked_values("Paid", ("submitted", "paid", "denied"))[0] == "paid"
    pattern = like_regex("a\\%b_%", False)
    assert pattern is not None and pattern.fullmatch("a%bcdef") and not pattern.fullmatch("abcd")


def test_patterns_python_cannot_read_like_postgresql_give_no_domain() -> None:
    for pattern in ("\\mword\\M", "(?i)x", "[[:foo:]]", "(unclosed"):
        made = domain_of(
            column="c",
            enum_values=(),
            checks=(f"(c ~ '{pattern}'::text)",),
            allowed_values={},
            examples=(),
        )
        assert made is None, pattern
    posix = domain_of(
        column="c", enum_values=(), checks=("(c ~ '^[[:digit:]]+$'::text)",),
        allowed_values={}, examples=(),
    )  # fmt: skip
    assert posix is not None and posix.miss("12", "=") is None and posix.miss("1a", "=")


def test_value_owners_name_other_columns_with_the_value() -> None:
    assert CATALOG.value_owners["auto"] == ("policies.product",)
    assert set(CATALOG.value_owners["approved"]) == {"claims.status", "claim_events.event_type"}


def test_a_json_key_s_type_is_the_text_arrows_read() -> None:
    boolean = domain_of(
        column="injuries",
        enum_values=(),
        checks=(),
        allowed_values={},
        examples=(),
        json_type="boolean",
    )
    assert boolean is not None and boolean.values == ("true", "false")
    assert boolean.miss("TRUE", "=") == Miss("TRUE", "true")
    integer = domain_of(
        column="trip_days",
        enum_values=(),
        checks=(),
        allowed_values={},
        examples=(),
        json_type="integer",
    )
    assert integer is not None and integer.accepts("16") and not integer.accepts("16.5")
    number = domain_of(
        column="x", enum_values=(), checks=(), allowed_values={}, examples=(), json_type="number"
    )
    assert number is not None and number.accepts("-2.5e3") and not number.accepts("many")
    # the documented values come first; a text key has no domain of its type
    listed = domain_of(
        column="flag",
        enum_values=(),
        checks=(),
        allowed_values={"yes": "", "no": ""},
        examples=(),
        json_type="boolean",
    )
    assert listed is not None and listed.values == ("yes", "no")
    text = domain_of(
        column="t", enum_values=(), checks=(), allowed_values={}, examples=(), json_type="text"
    )
    assert text is None
    # a column of type boolean is not a key: 'TRUE' is one of its inputs
    column = domain_of(column="b", enum_values=(), checks=(), allowed_values={}, examples=())
    assert column is None
