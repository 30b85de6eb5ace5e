"""The catalogue of bad inputs: each case plants one problem into the healthy corpus of ``corpus``.

The cases live by kind in ``cases_edf``, ``cases_annotations``, ``cases_layout`` and
``cases_config``; ``bad_input`` says what a case is. ``test_catalogue.py`` runs every case;
``CATALOGUE.md`` is this list as a table (regenerate it with ``python -m
tests.reliability.catalogue``; a test checks it is up to date).
"""

from __future__ import annotations

import sys
from pathlib import Path

from tests.reliability.bad_input import (
    ACCEPTED,
    CONFIG,
    CONFIG_ERROR,
    KINDS,
    BadInput,
    Outcome,
)
from tests.reliability.cases_annotations import ANNOTATION_CASES
from tests.reliability.cases_config import CONFIG_CASES
from tests.reliability.cases_edf import EDF_CASES
from tests.reliability.cases_layout import LAYOUT_CASES

__all__ = ["ACCEPTED", "CATALOGUE", "CONFIG", "CONFIG_ERROR", "KINDS", "BadInput", "Outcome"]

CATALOGUE: list[BadInput] = EDF_CASES + ANNOTATION_CASES + LAYOUT_CASES + CONFIG_CASES

PENDING = (
    ("parquet_missing_label_column", "Parquet", "written with the Parquet source"),
    ("parquet_null_labels", "Parquet", "written with the Parquet source"),
    ("parquet_wrong_types", "Parquet", "written with the Parquet source"),
    ("parquet_corrupt_footer", "Parquet", "written with the Parquet source"),
)


def _outcome(case: BadInput) -> str:
    if case.reason == ACCEPTED:
        return "accepted, audited"
    if case.reason == CONFIG_ERROR:
        where = "" if case.line is None else f" (line {case.line})"
        return f"exit 2: config error{where}"
    where = "" if case.line is None else f", line {case.line}"
    return f"`{case.reason}`{where}"


def markdown() -> str:
    """The catalogue as a Markdown table (the content of ``CATALOGUE.md``)."""
    counts = {kind: sum(c.kind == kind for c in CATALOGUE) for kind in KINDS}
    lines = [
        "# Catalogue of bad inputs",
        "",
        "Generated from `tests/reliability/catalogue.py`",
        "(`python -m tests.reliability.catalogue`). `tests/reliability/test_catalogue.py` plants",
        "each case into a healthy corpus holding every format (TUSZ v2 and v1.5, CHB-MIT, Siena,",
        "BIDS, EDF+: 20 files, 11 recordings), audits it with `preflight audit`, and checks that",
        "the bad input is rejected with the reason (and line) below or, when allowed, audited;",
        "that nothing else is rejected and every other file is audited (manifest + rejected =",
        "inputs); the exit code (0 pass, 1 rejected, 2 config error); and that no traceback",
        "escapes. A known bug is a strict xfail whose reason names the file and the fix.",
        "",
        f"{len(CATALOGUE)} cases: "
        + ", ".join(f"{counts[k]} {k}" for k in KINDS)
        + f". Pending: {len(PENDING)} Parquet cases.",
        "",
        "| id | kind | bad input | outcome | status |",
        "|---|---|---|---|---|",
    ]
    for case in CATALOGUE:
        status = "known bug (xfail)" if case.bug else "tested"
        description = case.description.replace("|", "\\|")
        lines.append(f"| `{case.id}` | {case.kind} | {description} | {_outcome(case)} | {status} |")
    for case_id, kind, why in PENDING:
        lines.append(f"| `{case_id}` | {kind.lower()} | {why} | | pending |")
    return "\n".join(lines) + "\n"


CATALOGUE_MD = Path(__file__).with_name("CATALOGUE.md")

if __name__ == "__main__":
    CATALOGUE_MD.write_text(markdown(), encoding="utf-8")
    sys.stdout.write(f"wrote {CATALOGUE_MD} ({len(CATALOGUE)} cases)\n")
