"""The lazy command registry: the root help lists what the commands themselves say."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

import preflight.cli as cli


@pytest.mark.parametrize("name", list(cli.COMMANDS))
def test_summary_is_the_commands_own_help(name: str) -> None:
    """Read from the source without importing it, and equal to the built command's help."""
    brief = cli.summary(name)
    assert brief is not None, f"{name}: its help is not a plain docstring or help= string"
    group = typer.main.get_group(cli.app)
    real = group.get_command(typer.Context(group), name)
    assert (brief.name, brief.help) == (name, real.help)


def test_root_help_lists_every_command_in_order() -> None:
    out = CliRunner().invoke(cli.app, ["--help"], env={"COLUMNS": "100"}).output
    positions = [out.index(f"│ {name} ") for name in cli.COMMANDS]
    assert positions == sorted(positions)


def test_an_unknown_command_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli.app, ["nope"])
    assert result.exit_code == 2
    assert "No such command 'nope'" in result.output
