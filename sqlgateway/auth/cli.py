"""`sqlgateway hash-key` and `sqlgateway dev-token`: make API key entries and local test tokens.

Registered on the main parser by `add_auth_parsers`; like the rest of the CLI, no logic
lives here beyond reading flags and printing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sqlgateway.auth.api_keys import MIN_KEY_CHARS, key_entry, new_key
from sqlgateway.auth.devtoken import (
    DEV_AUDIENCE,
    DEV_ISSUER,
    default_dev_dir,
    dev_environment,
    ensure_dev_keys,
    mint_token,
)
from sqlgateway.settings import API_KEY_ENTRY


def add_auth_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `hash-key` and `dev-token`."""
    hash_key = commands.add_parser(
        "hash-key", help="make an API key and its SQLGATEWAY_API_KEYS entry (name:sha256:hash)"
    )
    hash_key.add_argument("--name", required=True, help="the key's name: the actor it audits as")
    hash_key.add_argument(
        "--stdin",
        action="store_true",
        help="hash a key read from standard input instead of generating one; prints only the entry",
    )
    hash_key.set_defaults(func=_hash_key)

    dev_token = commands.add_parser(
        "dev-token",
        help="sign a local test access token (for trying SQLGATEWAY_AUTH=oauth without a provider)",
    )
    dev_token.add_argument("--sub", default="dev-user", help="the token's subject (`sub` claim)")
    dev_token.add_argument("--role", help="database role claim (`db_role`) for per-user scoping")
    dev_token.add_argument(
        "--claim", action="append", help="extra claim name=value (repeatable), e.g. email=a@b.c"
    )
    dev_token.add_argument(
        "--lifetime-s", type=int, default=3_600, help="seconds until the token expires"
    )
    dev_token.add_argument(
        "--dir", help="where the local signing key and jwks.json live (default: user data dir)"
    )
    dev_token.add_argument(
        "--print-env",
        action="store_true",
        help="print the SQLGATEWAY_OAUTH_* settings that accept these tokens instead of a token",
    )
    dev_token.set_defaults(func=_dev_token)


def _hash_key(args: argparse.Namespace) -> int:
    if args.stdin:
        key = sys.stdin.readline().strip()
        if len(key) < MIN_KEY_CHARS:
            print(
                f"sqlgateway: the key must be at least {MIN_KEY_CHARS} characters of random "
                "text; leave out --stdin to have one generated",
                file=sys.stderr,
            )
            return 2
    else:
        key = new_key()
    entry = key_entry(args.name, key)
    if not API_KEY_ENTRY.fullmatch(entry):
        print("sqlgateway: --name may hold letters, digits and _ . @ - (1-64)", file=sys.stderr)
        return 2
    if not args.stdin:
        print(f"key (paste it into the GPT editor; it is not stored anywhere): {key}")
        print("SQLGATEWAY_API_KEYS entry:", end=" ")
    print(entry)
    return 0


def _dev_token(args: argparse.Namespace) -> int:
    directory = Path(args.dir) if args.dir else default_dev_dir()
    jwks = ensure_dev_keys(directory)
    claims: dict[str, Any] = {}
    for pair in args.claim or []:
        name, equals, value = pair.partition("=")
        if not equals or not name:
            print(f"sqlgateway: --claim {pair!r} is not name=value", file=sys.stderr)
            return 2
        claims[name] = value
    if args.role:
        claims["db_role"] = args.role
    token = mint_token(
        directory,
        issuer=DEV_ISSUER,
        audience=DEV_AUDIENCE,
        subject=args.sub,
        claims=claims,
        lifetime_s=args.lifetime_s,
    )
    if args.print_env:
        for name, value in dev_environment(jwks).items():
            print(f"{name}={value}")
        return 0
    print(token)
    return 0
