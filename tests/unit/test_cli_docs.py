"""docs/cli.md describes every command and flag of the CLI, and the README lists the commands."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from conftest import ROOT

from sqlgateway.cli import build_parser


def _commands(parser: argparse.ArgumentParser, prefix: str = "") -> Iterator[tuple[str, list[str]]]:
    """(command, its flags) for every command that runs something (not groups)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                if any(isinstance(a, argparse._SubParsersAction) for a in sub._actions):
                    yield from _commands(sub, prefix + name + " ")
                    continue
                flags = [
                    flag
                    for sub_action in sub._actions
                    for flag in sub_action.option_strings
                    if flag not in ("-h", "--help")
                ]
                yield prefix + name, flags


def test_every_command_and_flag_is_in_the_cli_reference() -> None:
    reference = (ROOT / "docs" / "cli.md").read_text()
    for command, flags in _commands(build_parser()):
        section = reference.split(f"## `{command}`", 1)
        assert len(section) == 2, f"docs/cli.md has no section for {command}"
        body = section[1].split("\n## ", 1)[0]
        for flag in flags:
            assert f"`{flag}" in body, f"docs/cli.md: {command} does not describe {flag}"
        summary = reference.split("\n## ", 1)[0]
        assert f"`sqlgateway {command}" in summary, f"docs/cli.md's table lacks {command}"
