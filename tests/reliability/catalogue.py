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

# Parquet sources audit on their own (a folder of tables is not an EEG corpus), so their bad
# inputs are planted into a synthesized stamp tier by the Parquet tests named here.
_PARQUET_BAD = (
    "../integration/test_parquet.py::"
    "test_bad_files_are_each_rejected_with_a_reason_and_the_rest_audited"
)
PARQUET = (
    ("parquet_missing_label_column", "a file without the label column",
     "`bad_format` (schema named)",
     _PARQUET_BAD),
    ("parquet_null_labels", "labels null in 2 of 8 rows", "`unknown_label` (null; first row named)",
     _PARQUET_BAD),
    ("parquet_outside_mapping", "a label value the mapping does not name",
     "`unknown_label` (first row named)", _PARQUET_BAD),
    ("parquet_wrong_types", "a string label column", "`bad_format` (schema named)", _PARQUET_BAD),
    ("parquet_corrupt_footer", "a file whose footer does not parse", "`bad_format` (footer)",
     _PARQUET_BAD),
    ("parquet_garbage_pages", "a footer that parses over label pages that do not decode",
     "`bad_format`, only that file",
     "../integration/test_parquet.py::test_unreadable_data_pages_reject_only_their_file"),
    ("parquet_odd_names", "file names holding `*`, `?` or `[` beside decoys they would glob",
     "accepted, each read literally",
     "../integration/test_parquet.py::test_file_names_holding_glob_characters_are_read_literally"),
    ("parquet_fifo", "a named pipe called `.parquet` (would block a reader)", "`unreadable`",
     "../integration/test_parquet.py::"
     "test_a_fifo_and_names_not_utf8_are_rejected_and_the_rest_audited"),
    ("parquet_name_not_utf8", "a file and a folder whose names are not UTF-8",
     "`undecodable`, under a printable path",
     "../integration/test_parquet.py::"
     "test_a_fifo_and_names_not_utf8_are_rejected_and_the_rest_audited"),
    ("parquet_all_inputs", "a tier mixing good and bad files and a stray text file",
     "manifest + rejected = inputs",
     "../integration/test_parquet.py::test_every_file_ends_in_the_manifest_or_rejected"),
)  # fmt: skip


# Faults and safety guarantees, each with the test that holds it (listed after the cases).
FAULTS = (
    ("an audit SIGKILLed at 20 seeded moments", "the manifest is as before or complete, never "
     "half-written; the next audit gives an uninterrupted audit's figures",
     ("test_faults.py::test_sigkill_at_random_points_leaves_a_whole_manifest",)),
    ("an audit SIGKILLed while parsing, loading, deriving, splitting, gating, recording",
     "the same: one transaction from the scan to the audit record",
     ("test_faults.py::test_kill_at_a_named_point",)),
    ("an audit SIGKILLed with its worker pool up", "the workers die with it (PR_SET_PDEATHSIG)",
     ("test_faults.py::test_workers_die_with_a_killed_audit",)),
    ("two audits of one manifest", "the second waits (30 s) or fails naming the manifest, exit 2",
     ("test_faults.py::test_second_audit_waits_for_the_first",
      "test_faults.py::test_second_open_fails_with_a_clear_message",
      "test_faults.py::test_cli_reports_a_held_manifest_and_exits_2",
      "test_faults.py::test_two_concurrent_audits_both_finish")),
    ("the manifest already open read-only in this process", "a message that says so (no advice "
     "to delete it)", ("test_faults.py::test_audit_while_this_process_reads_the_manifest",)),
    ("a full disk while writing a report", "exit 2 naming the file; the old report kept, no "
     "temporary file left", ("test_faults.py::test_full_disk_while_writing_the_report",)),
    ("`preflight train` SIGKILLed, its newest checkpoint torn", "`--resume` reports the torn "
     "file, resumes from the previous one and ends with the uninterrupted run's weights "
     "(`torch.equal`)",
     ("test_train_faults.py",
      "../integration/test_train.py::test_resume_ends_with_the_uninterrupted_weights",
      "../integration/test_train.py::test_corrupted_latest_checkpoint_falls_back_to_the_previous")),
    ("untrusted bytes", "no unpickling, eval or unsafe YAML in the package; SQL only with "
     "bound parameters; HTML, Markdown, JUnit and terminal reports escape every data string",
     ("test_safety.py",)),
    ("`[`, `*` or `?` in TMPDIR", "nothing lost (staged files are named literally)",
     ("test_safety.py::test_a_temporary_folder_with_glob_characters_loses_nothing",)),
    ("a run config writing outside its folder", "exit 2 naming key and line, nothing written",
     ("test_safety.py::test_an_output_path_cannot_escape_the_config_folder",
      "test_safety.py::test_train_refuses_an_escaping_path_before_writing_anything")),
    ("a user suite (`--suite FILE`, `gate.suite`) that is empty or lowers the floor's "
     "thresholds, on a corpus whose dev split holds no seizure", "the floor still fails the "
     "audit (exit 1): a user suite adds to the packaged one",
     ("test_floor.py::test_a_user_suite_cannot_lower_the_floor",
      "test_floor.py::test_a_user_suite_adds_to_the_packaged_one")),
    ("an expected split lost: `dev` a dangling link, a mode-000 folder, or a Parquet tier of "
     "0-row files", "`splits_present` fails (exit 1) naming the split and why; the folder or "
     "link is listed as rejected",
     ("test_floor.py::test_a_dangling_dev_link_is_a_missing_split",
      "test_floor.py::test_an_unreadable_dev_folder_is_a_missing_split",
      "test_floor.py::test_a_tier_of_empty_parquet_files_is_a_missing_split")),
    ("`--labels-only` with `# duration = 1` then 300 zeros, or 1e9 s", "`implausible_duration`, "
     "before any window exists (was: a DuckDB conversion error, or 31-87 s and ~5 GB)",
     ("test_limits.py::test_labels_only_durations_no_window_count_holds",)),
    ("an unexpected exception inside a reader (a bug planted for one file)", "that file is "
     "rejected as `internal_error` with the exception's text; the audit goes on",
     ("test_limits.py::test_an_exception_in_a_reader_costs_one_file",)),
    ("an annotation file over `audit.limits.max_annotation_mb`, then the limit raised",
     "`too_large` without being opened; read on the next audit once the limit allows it",
     ("test_limits.py::test_raising_the_size_limit_reads_the_file_again",)),
    ("a labels-only audit of a recording whose `.csv_bi` (or `.csv`) is broken",
     "its good sibling is rejected as `annotation_rejected` naming the broken file",
     ("test_siblings.py::test_labels_only_rejects_the_sibling_of_a_bad_file",)),
    ("2,000 identical seizure rows per file (30 files); duplicate and touching intervals "
     "(hypothesis)", "the same report on every audit of the same bytes, equal to a brute-force "
     "merge: every query feeding a check has a total order",
     ("test_determinism.py::test_two_thousand_identical_seizure_rows",
      "test_determinism.py::test_duplicate_and_touching_intervals_audit_the_same_twice")),
    ("a truncated manifest, another application's DuckDB file, `meta.schema_version` `abc` or "
     "newer than preflight, under `audit`, `report` and `runs`", "exit 2, one line naming the "
     "file and a fix; nothing written into another application's database",
     ("test_manifest_damage.py::test_a_damaged_manifest_is_a_usage_error",)),
    ("`--json`, `--junit`, `--markdown` or `--html` naming the manifest itself", "refused "
     "(exit 2) before anything runs; the manifest and its history intact",
     ("test_manifest_damage.py::test_no_report_is_written_over_the_manifest",)),
    ("no space left when the audit commits, or when the window cache writes an entry",
     "exit 2, one line naming the file; nothing committed; no temporary file left",
     ("test_manifest_damage.py::test_full_disks_at_commit_and_under_the_window_cache",)),
    ("`preflight train` with a user model returning (B, 2), or holding no parameters",
     "exit 2, one line naming the model and what it must return; the run row `failed`",
     ("test_train_setup.py::test_a_user_model_that_cannot_train_is_a_usage_error",)),
    ("`WORLD_SIZE=2` without torchrun, `RANK=abc`, `WORLD_SIZE=two`", "exit 2, one line naming "
     "the variable and how to launch",
     ("test_train_setup.py::test_a_broken_torchrun_environment_is_a_usage_error",)),
    ("SIGINT or SIGTERM while DuckDB runs a statement during an audit", "exit 130 / 143 with "
     "one line; the audit rolled back whole; the next audit works",
     ("test_signals.py::test_a_signal_during_a_duckdb_statement_stops_the_audit_cleanly",)),
    ("SIGTERM during `preflight train`", "exit 143 with one line; the run row `interrupted` "
     "(resumable), not left `running`",
     ("test_signals.py::test_sigterm_marks_a_training_run_interrupted",)),
    ("random EDF headers, EDF+ annotations, annotation files and configs (hypothesis)",
     "nothing escapes but preflight's own errors", ("test_fuzz.py",)),
)  # fmt: skip


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
        + f"; and {len(PARQUET)} Parquet cases, tested by the Parquet tests named.",
        "",
        "| id | kind | bad input | outcome | status |",
        "|---|---|---|---|---|",
    ]
    for case in CATALOGUE:
        status = "known bug (xfail)" if case.bug else "tested"
        description = case.description.replace("|", "\\|")
        lines.append(f"| `{case.id}` | {case.kind} | {description} | {_outcome(case)} | {status} |")
    for case_id, description, outcome, test in PARQUET:
        lines.append(f"| `{case_id}` | parquet | {description} | {outcome} | `{test}` |")
    lines += [
        "",
        "## Faults and safety",
        "",
        "| fault | guarantee | test (under `tests/reliability/`) |",
        "|---|---|---|",
    ]
    for what, held, tests in FAULTS:
        lines.append(f"| {what} | {held} | " + ", ".join(f"`{t}`" for t in tests) + " |")
    return "\n".join(lines) + "\n"


def readme_list() -> str:
    """The cases as the README lists them: one line each, by kind (README.md holds this text)."""
    lines = [f"<details><summary>The {len(CATALOGUE) + len(PARQUET)} bad inputs</summary>", ""]
    for case in CATALOGUE:
        lines.append(f"- {case.kind}, `{case.id}`: {case.description} -> {_outcome(case)}")
    for case_id, description, outcome, _ in PARQUET:
        lines.append(f"- parquet, `{case_id}`: {description} -> {outcome}")
    lines += ["", "</details>"]
    return "\n".join(lines) + "\n"


CATALOGUE_MD = Path(__file__).with_name("CATALOGUE.md")
README = Path(__file__).parents[2] / "README.md"


def _readme_with_list(readme: str) -> str:
    """``readme`` with the text between the list's markers replaced by ``readme_list()``."""
    start, end = "<!-- catalogue:start -->\n", "<!-- catalogue:end -->"
    before, _, rest = readme.partition(start)
    _, _, after = rest.partition(end)
    return before + start + readme_list() + end + after


if __name__ == "__main__":
    CATALOGUE_MD.write_text(markdown(), encoding="utf-8")
    README.write_text(_readme_with_list(README.read_text(encoding="utf-8")), encoding="utf-8")
    sys.stdout.write(f"wrote {CATALOGUE_MD} ({len(CATALOGUE)} cases)\n")
