"""role/definition.py: the one definition of a safe serving role."""

from __future__ import annotations

import re

import pytest

from sqlgateway.role.definition import (
    FAMILIES,
    FAMILIES_BY_NAME,
    SETTINGS,
    SETTINGS_BY_NAME,
    setting_amount,
)

#: What the demo revoked before the definition existed (demo_roles.py): nothing may be lost.
DEMO_BEFORE = (
    "lo_open", "lo_close", "loread", "lowrite", "lo_lseek", "lo_lseek64", "lo_tell",
    "lo_tell64", "lo_truncate", "lo_truncate64", "lo_creat", "lo_create", "lo_unlink",
    "lo_import", "lo_export", "lo_from_bytea", "lo_get", "lo_put",
    "pg_logical_emit_message", "pg_notify",
    "pg_advisory_lock", "pg_advisory_lock_shared", "pg_advisory_unlock",
    "pg_advisory_unlock_shared", "pg_advisory_unlock_all", "pg_advisory_xact_lock",
    "pg_advisory_xact_lock_shared", "pg_try_advisory_lock", "pg_try_advisory_lock_shared",
    "pg_try_advisory_xact_lock", "pg_try_advisory_xact_lock_shared",
    "pg_cancel_backend", "pg_terminate_backend",
    "query_to_xml", "query_to_xmlschema", "query_to_xml_and_xmlschema", "ts_stat",
)  # fmt: skip


def test_provisioning_revokes_everything_the_demo_did() -> None:
    revoked = {name for f in FAMILIES if f.revoked_by_provisioning for name in f.names}
    assert set(DEMO_BEFORE) <= revoked


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.name)
def test_every_family_says_why_and_shows_calls_of_its_own(family: object) -> None:
    from sqlgateway.role.definition import Family

    assert isinstance(family, Family)
    assert family.why and family.examples
    for example in family.examples:
        called = set(re.findall(r"\b([a-z_0-9]+)\(", example))
        assert called & set(family.names), f"{example} calls none of {family.name}"


def test_one_overload_only_where_only_it_runs_sql() -> None:
    sql_in_text = FAMILIES_BY_NAME["sql-in-text"]
    assert sql_in_text.matches("ts_rewrite", "ts_rewrite(tsquery,text)")
    assert not sql_in_text.matches("ts_rewrite", "ts_rewrite(tsquery,tsquery,tsquery)")
    assert sql_in_text.matches("query_to_xml", "query_to_xml(text,boolean,boolean,text)")


def test_a_function_belongs_to_one_family_at_most() -> None:
    names = [name for family in FAMILIES for name in family.functions]
    assert len(names) == len(set(names))


@pytest.mark.parametrize(
    ("value", "unit", "amount"),
    [
        ("30s", "ms", 30_000),
        ("1500", "ms", 1_500),
        ("5min", "ms", 300_000),
        ("1GB", "kB", 1_048_576),
        ("4MB", "kB", 4_096),
        ("2", "8kB", 16),
        ("-1", "kB", -1),
        ("0", "ms", 0),
        ("100us", "ms", 0.1),
    ],
)
def test_setting_amounts_in_base_units(value: str, unit: str, amount: float) -> None:
    assert setting_amount(value, unit) == pytest.approx(amount)


@pytest.mark.parametrize("value", ["", "lots", "3 parsecs", "1e6"])
def test_what_is_not_an_amount(value: str) -> None:
    assert setting_amount(value, "kB") is None


def test_each_setting_accepts_its_own_value_and_refuses_no_limit() -> None:
    units = {
        "statement_timeout": "ms",
        "idle_in_transaction_session_timeout": "ms",
        "temp_file_limit": "kB",
        "work_mem": "kB",
        "default_transaction_read_only": None,
    }
    assert set(units) == {s.name for s in SETTINGS}
    for setting in SETTINGS:
        unit = units[setting.name]
        assert setting.accepts(setting.value, unit), setting.name
        assert not setting.accepts(None, unit), setting.name
        if setting.loosest is not None:
            assert setting.accepts(setting.loosest, unit), setting.name
            unlimited = "-1" if setting.name == "temp_file_limit" else "0"
            assert not setting.accepts(unlimited, unit), setting.name
    assert not SETTINGS_BY_NAME["default_transaction_read_only"].accepts("off", None)
    assert not SETTINGS_BY_NAME["work_mem"].accepts("65MB", "kB")
    assert not SETTINGS_BY_NAME["statement_timeout"].accepts("6min", "ms")


# -- docs/defence-in-depth.md states what the definition says -----------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _blocks() -> dict[str, str]:
    from sqlgateway.role.definition import KEPT

    revoked = [f for f in FAMILIES if f.revoked_by_provisioning]
    families = ["| family | functions (every overload) | why | calls tried |", "|---|---|---|---|"]
    for family in revoked:
        names = ", ".join(f"`{name}`" for name in family.functions)
        calls = "<br>".join(f"`{_cell(call)}`" for call in family.examples)
        families.append(f"| {family.title} | {names} | {_cell(family.why)} | {calls} |")
    settings = ["| setting | provisioned | `check-role` accepts | why |", "|---|---|---|---|"]
    for setting in SETTINGS:
        bound = f"at most {setting.loosest}, not 0 or -1" if setting.loosest else setting.value
        who = " (superuser only)" if setting.superuser_only else ""
        settings.append(
            f"| `{setting.name}`{who} | `{setting.value}` | {bound} | {_cell(setting.why)} |"
        )
    kept = ["| kept | why | the layer that covers it |", "|---|---|---|"]
    kept += [f"| {k.what} | {_cell(k.why)} | {_cell(k.layer)} |" for k in KEPT]
    return {
        "provisioned-role": "\n".join(families) + "\n",
        "role-settings": "\n".join(settings) + "\n",
        "kept": "\n".join(kept) + "\n",
    }


def test_the_defence_doc_states_the_definition() -> None:
    """SQLGATEWAY_WRITE_DEFENCE_DOC=1 writes the blocks (as test_attack_corpus does)."""
    import os

    from conftest import ROOT

    doc = ROOT / "docs" / "defence-in-depth.md"
    text = doc.read_text("utf-8")
    for name, block in _blocks().items():
        start, end = f"<!-- {name}: generated -->\n", f"<!-- end {name} -->"
        head, found, rest = text.partition(start)
        assert found, f"{doc} has no {start.strip()} marker"
        if os.environ.get("SQLGATEWAY_WRITE_DEFENCE_DOC"):
            text = head + start + block + end + rest.partition(end)[2]
        else:
            assert rest.startswith(block + end), f"{doc}: the {name} table is stale"
    if os.environ.get("SQLGATEWAY_WRITE_DEFENCE_DOC"):
        doc.write_text(text, "utf-8")
