"""role/provision.py: the provisioning script, as `provision-role` prints it (no database)."""

from __future__ import annotations

import pytest

from sqlgateway.cli import main
from sqlgateway.role.definition import FAMILIES, SETTINGS
from sqlgateway.role.provision import provision_sql, public_revocations_sql, superuser_sql


def test_provision_role_prints_reviewable_sql(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["provision-role", "--role", "reader", "--database", "sales", "--schema", "s1"]) == 0
    )
    sql = capsys.readouterr().out
    for expected in (
        'CREATE ROLE "reader" LOGIN NOSUPERUSER NOBYPASSRLS NOREPLICATION NOCREATEROLE NOCREATEDB',
        # only a superuser may name these attributes at all: they are changed where they differ
        "IF (SELECT rolsuper FROM pg_roles WHERE rolname = 'reader') THEN ALTER ROLE",
        """ALTER ROLE "reader" SET default_transaction_read_only = 'on';""",
        """ALTER ROLE "reader" IN DATABASE "sales" RESET statement_timeout;""",
        "EXECUTE format('GRANT SELECT ON %s TO %I', t, 'reader');",
        "WHERE c.relnamespace = 's1'::regnamespace",
        'REVOKE CREATE, TEMPORARY ON DATABASE "sales" FROM "reader";',
        "REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC",
        "GRANT EXECUTE ON FUNCTION %s TO %s",  # back to the database's other roles
        "'lo_from_bytea'",
        "'pg_terminate_backend'",
        "'ts_rewrite(tsquery,text)'",
        "WHEN insufficient_privilege THEN RAISE NOTICE",  # temp_file_limit needs a superuser
    ):
        assert expected in sql, expected
    assert sql.startswith("BEGIN;\n") and sql.endswith("COMMIT;\n")
    assert "PASSWORD" not in sql


def test_every_setting_and_revoked_family_is_in_the_script() -> None:
    sql = provision_sql("r", "d", ("public",))
    for setting in SETTINGS:
        assert f"SET {setting.name} = '{setting.value}'" in sql
    for family in FAMILIES:
        for name in family.names:
            assert (f"'{name}" in sql) == family.revoked_by_provisioning, name


def test_no_grant_back_grants_nothing() -> None:
    assert "GRANT EXECUTE" in public_revocations_sql("r")
    without = public_revocations_sql("r", grant_back=False)
    assert "others text;" in without and "INTO others" not in without


def test_names_and_passwords_are_quoted() -> None:
    sql = provision_sql('we"ird', "d'b", ("s",), password="it's")
    assert 'CREATE ROLE "we""ird"' in sql
    assert "rolname = 'we\"ird'" in sql
    assert 'ON DATABASE "d\'b"' in sql
    assert "PASSWORD 'it''s'" in sql


def test_the_superuser_part_is_a_transaction_of_its_own() -> None:
    sql = superuser_sql("r")
    assert sql.startswith("BEGIN;\n") and sql.endswith("COMMIT;\n")
    assert "ALTER ROLE \"r\" SET temp_file_limit = '1GB';" in sql
    assert "REVOKE EXECUTE ON FUNCTION" in sql and "ON DATABASE" not in sql


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--apply"], "--apply needs --admin-url"),
        (["--apply", "--admin-url", "mysql://admin@db/x"], "--admin-url is not usable"),
    ],
)
def test_apply_needs_a_postgresql_admin_url(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["provision-role", "--database", "sales", *argv]) == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err
