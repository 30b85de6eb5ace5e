"""Consoles off a terminal print messages on one line and tables at their natural width."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.table import Table
from typer.testing import CliRunner

from preflight.cli import app
from preflight.console import UNWRAPPED_WIDTH, make_console


@pytest.fixture
def no_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    """No COLUMNS in the environment, as in most CI runners."""
    monkeypatch.delenv("COLUMNS", raising=False)


def _wide_table() -> Table:
    """A table of 12 numeric columns, wider than 80 characters."""
    table = Table()
    for index in range(12):
        table.add_column(f"column{index}", justify="right", no_wrap=True)
    table.add_row(*(f"{1_000_000 + index:,}" for index in range(12)))
    return table


@pytest.mark.usefixtures("no_columns")
def test_a_message_off_a_terminal_stays_on_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    console = make_console()
    assert not console.is_terminal
    message = "error: " + "/a-long-folder" * 20 + ": found no recording"
    console.print(message)
    assert capsys.readouterr().out == message + "\n"


@pytest.mark.usefixtures("no_columns")
def test_a_table_off_a_terminal_keeps_every_number(capsys: pytest.CaptureFixture[str]) -> None:
    make_console().print(_wide_table())
    out = capsys.readouterr().out
    assert "…" not in out
    assert all(f"{1_000_000 + index:,}" in out for index in range(12))
    assert max(len(line) for line in out.splitlines()) > 80  # natural width, not 80
    assert max(len(line) for line in out.splitlines()) < UNWRAPPED_WIDTH  # and not padded


def test_columns_sets_the_width_off_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "120")
    assert make_console().width == 120
    assert make_console(stderr=True).width == 120


@pytest.mark.usefixtures("no_columns")
def test_a_cli_error_about_a_long_path_is_one_line(tmp_path: Path) -> None:
    """The error names the whole folder on one line, however long the temporary path is."""
    empty = tmp_path / ("x" * 60) / ("y" * 60) / "empty"
    empty.mkdir(parents=True)
    result = CliRunner().invoke(app, ["audit", str(empty)])
    assert result.exit_code == 2
    assert f"{empty}: found no recording or annotation file" in result.output
