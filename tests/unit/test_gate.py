"""The gate: a healthy corpus passes; each defect fails naming split, observed value, threshold."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

from preflight.config import GateConfig, SplitThresholds
from preflight.errors import ConfigError, ManifestError
from preflight.manifest.store import Manifest
from preflight.results import CheckResult, Severity, Verdict
from preflight.validators.gate import GateResult, run_gate
from preflight.validators.suites import load_suite
from tests.unit.manifests import Rec, make_manifest

PACKAGE = Path(__file__).resolve().parents[2] / "preflight"

# 10 s windows of 600 s recordings: 60 each. Positive windows: train 6 + 6 + 3 = 15 of 240
# (6.25 %), dev 3 of 120 (2.5 %), eval 4 of 120 (3.3 %).
HEALTHY = (
    Rec("train/p1_t0", "p1", 600.0, ((100.0, 160.0),), "train", "h1"),
    Rec("train/p2_t0", "p2", 600.0, ((200.0, 260.0),), "train", "h2"),
    Rec("train/p3_t0", "p3", 600.0, (), "train", "h3"),
    Rec("train/p4_t0", "p4", 600.0, ((300.0, 330.0),), "train", "h4"),
    Rec("dev/p5_t0", "p5", 600.0, ((100.0, 130.0),), "dev", "h5"),
    Rec("dev/p6_t0", "p6", 600.0, (), "dev", "h6"),
    Rec("eval/p7_t0", "p7", 600.0, ((50.0, 90.0),), "eval", "h7"),
    Rec("eval/p8_t0", "p8", 600.0, (), "eval", "h8"),
)
SUITE_CHECKS = {
    "both_classes", "min_positive_windows", "min_positive_events", "min_positive_patients",
    "positive_fraction_bounds", "balanced_sampling_needed", "auroc_defined", "sampler_feasible",
}  # fmt: skip
CORPUS_CHECKS = {
    "schema_recordings", "schema_events", "schema_seizures", "schema_windows", "splits_present",
    "patient_disjoint", "recording_disjoint", "split_fraction_ratio", "rejected_fraction",
}  # fmt: skip


def replace(recs: Sequence[Rec], name: str, **changes: object) -> list[Rec]:
    """``recs`` with the recording ``name`` changed."""
    return [dataclasses.replace(r, **changes) if r.name == name else r for r in recs]  # type: ignore[arg-type]


@contextmanager
def manifest_of(tmp_path: Path, recs: Sequence[Rec], **kwargs: object) -> Iterator[Manifest]:
    """A manifest holding ``recs``, its files known to the parse cache, closed afterwards."""
    m = make_manifest(tmp_path / "m.duckdb", recs, **kwargs)  # type: ignore[arg-type]
    m.con.execute(
        "INSERT INTO files SELECT path, 'edf', 1, 0, content_hash, 'edf-header', '1', NULL, NULL,"
        " NULL FROM recordings UNION ALL SELECT label_source, 'tusz_csv', 1, 0, 'x', 'tusz-csv',"
        " '1', NULL, NULL, NULL FROM recordings"
    )
    m.set_meta({"window_s": "10.0", "stride_s": "10.0", "min_overlap_s": "0.0"})
    try:
        yield m
    finally:
        m.close()


def gate(
    tmp_path: Path, recs: Sequence[Rec] = HEALTHY, config: GateConfig | None = None, **kw: object
) -> GateResult:
    """Run the gate over a manifest of ``recs``."""
    suite = kw.pop("suite", None)
    with manifest_of(tmp_path, recs, **kw) as m:
        return run_gate(m, config or GateConfig(), suite=suite)  # type: ignore[arg-type]


def find(result: GateResult, name: str, split: str | None = None) -> CheckResult:
    """The one check called ``name`` for ``split``."""
    (check,) = [c for c in result.checks if c.name == name and c.split == split]
    return check


def failed(result: GateResult) -> set[tuple[str, str | None]]:
    """(name, split) of every failed check."""
    return {(c.name, c.split) for c in result.checks if not c.passed}


def test_healthy_corpus_passes(tmp_path: Path) -> None:
    result = gate(tmp_path)
    assert failed(result) == set()
    assert result.verdict is Verdict.PASS
    names = {c.name for c in result.checks}
    assert names == SUITE_CHECKS | CORPUS_CHECKS
    per_split = {(c.name, c.split) for c in result.checks if c.name in SUITE_CHECKS}
    assert ("sampler_feasible", "train") in per_split
    assert ("sampler_feasible", "dev") not in per_split  # train only
    assert ("auroc_defined", "dev") in per_split
    assert ("auroc_defined", "train") not in per_split  # evaluation splits only
    assert len(per_split) == 3 * 5 + 2 + 2 * 1  # five for every split, two train, one each eval
    assert find(result, "min_positive_windows", "dev").message == (
        "dev split has 3 positive windows (needs >= 1)"
    )
    assert result.suite_name == "seizure"
    suite_bytes = (PACKAGE / "expectations" / "seizure.json").read_bytes()
    assert result.suite_hash == hashlib.sha256(suite_bytes).hexdigest()
    for check in result.checks:  # results are data: JSON all the way down
        json.loads(check.model_dump_json())


def test_no_positives_in_dev(tmp_path: Path) -> None:
    result = gate(tmp_path, replace(HEALTHY, "dev/p5_t0", seizures=()))
    assert result.verdict is Verdict.FAIL
    dev_failures = {
        "both_classes", "min_positive_windows", "min_positive_events", "min_positive_patients",
        "positive_fraction_bounds", "auroc_defined",
    }  # fmt: skip
    assert failed(result) == {(name, "dev") for name in dev_failures}
    check = find(result, "min_positive_windows", "dev")
    assert (check.observed, check.expected, check.severity) == (0, ">= 1", Severity.ERROR)
    assert check.message == "dev split has 0 positive windows (needs >= 1)"
    assert check.reason == "min_positive_windows"
    assert find(result, "auroc_defined", "dev").message == (
        "dev split has 0 positive and 120 negative windows (AUROC needs >= 1 of each)"
    )
    assert find(result, "positive_fraction_bounds", "dev").message == (
        "dev split has 0.000% positive windows, 0 of 120 (needs 0.010% to 90.0%)"
    )


def test_one_class_corpus(tmp_path: Path) -> None:
    recs = [dataclasses.replace(r, seizures=()) for r in HEALTHY]
    result = gate(tmp_path, recs)
    for split, windows in (("train", 240), ("dev", 120), ("eval", 120)):
        check = find(result, "both_classes", split)
        assert not check.passed
        assert check.message == (
            f"{split} split has 0 positive and {windows} negative windows "
            "(needs >= 1 of each class)"
        )
    assert not find(result, "sampler_feasible", "train").passed
    assert result.verdict is Verdict.FAIL


def test_patient_leak(tmp_path: Path) -> None:
    result = gate(tmp_path, replace(HEALTHY, "dev/p6_t0", patient="p1"))
    assert failed(result) == {("patient_disjoint", None)}
    check = find(result, "patient_disjoint")
    assert (check.observed, check.expected) == (1, 0)
    assert check.message == "1 patient(s) in more than one split (allowed: 0): p1 in train, dev"
    assert result.verdict is Verdict.FAIL


def test_duplicate_recording_across_splits(tmp_path: Path) -> None:
    result = gate(tmp_path, replace(HEALTHY, "eval/p8_t0", content_hash="h3"))
    assert failed(result) == {("recording_disjoint", None)}
    check = find(result, "recording_disjoint")
    assert check.observed == 1
    assert check.message == (
        "1 recording(s) in more than one split by content hash (allowed: 0): "
        "eval/p8_t0.edf (eval) = train/p3_t0.edf (train)"
    )


def test_too_few_positives_for_the_batch_size(tmp_path: Path) -> None:
    result = gate(tmp_path, config=GateConfig(batch_size=128))
    assert failed(result) == {("sampler_feasible", "train")}
    check = find(result, "sampler_feasible", "train")
    assert (check.observed, check.expected) == (15, ">= 32")
    assert check.message == (
        "train split has 15 positive windows (needs >= 32 for batches of 128 at 25% positives)"
    )


def test_warnings_do_not_fail_the_verdict(tmp_path: Path) -> None:
    """A long background recording drops train to 0.24 % positives: two warnings, a pass."""
    recs = [*HEALTHY, Rec("train/p9_t0", "p9", 60_000.0, (), "train", "h9")]
    result = gate(tmp_path, recs)
    assert failed(result) == {("balanced_sampling_needed", "train"), ("split_fraction_ratio", None)}
    balanced = find(result, "balanced_sampling_needed", "train")
    assert balanced.severity is Severity.WARNING
    assert balanced.message == (
        "train split has 0.240% positive windows (balanced sampling needed below 0.5%)"
    )
    ratio = find(result, "split_fraction_ratio")
    assert ratio.severity is Severity.WARNING
    assert ratio.message == (
        "positive-window fractions differ 13.9x across splits: eval 3.333% vs train 0.240% "
        "(allowed <= 5x)"
    )
    assert result.verdict is Verdict.PASS


def test_threshold_overridden_in_config(tmp_path: Path) -> None:
    """Evaluation thresholds apply to dev and eval; train keeps its own."""
    config = GateConfig(evaluation=SplitThresholds(min_positive_windows=4))
    result = gate(tmp_path, config=config)
    assert failed(result) == {("min_positive_windows", "dev")}
    assert find(result, "min_positive_windows", "dev").message == (
        "dev split has 3 positive windows (needs >= 4)"
    )
    assert find(result, "min_positive_windows", "eval").passed  # 4 >= 4
    assert find(result, "min_positive_windows", "train").expected == ">= 1"


def test_severity_overridden_in_config(tmp_path: Path) -> None:
    config = GateConfig(batch_size=128, severities={"sampler_feasible": Severity.WARNING})
    result = gate(tmp_path, config=config)
    assert find(result, "sampler_feasible", "train").severity is Severity.WARNING
    assert result.verdict is Verdict.PASS


def test_unknown_severity_name_is_a_config_error(tmp_path: Path) -> None:
    config = GateConfig(severities={"both_clases": Severity.WARNING})
    with pytest.raises(ConfigError, match=r"gate\.severities: unknown check 'both_clases'"):
        gate(tmp_path, config=config)


def test_unsplit_corpus_trains_on_all(tmp_path: Path) -> None:
    """The single split 'all' is train; there is nothing to compare across splits."""
    recs = [dataclasses.replace(r, declared_split="all") for r in HEALTHY]
    result = gate(tmp_path, recs)
    assert result.verdict is Verdict.PASS
    assert {c.split for c in result.checks if c.name in SUITE_CHECKS} == {"all"}
    assert find(result, "sampler_feasible", "all").observed == 22
    names = {c.name for c in result.checks}
    assert not names & {"patient_disjoint", "recording_disjoint", "split_fraction_ratio"}
    assert "auroc_defined" not in names
    assert find(result, "splits_present").message == (
        "all split trains; no evaluation split (split.method: stratified builds one)"
    )


def test_configured_evaluation_split_missing(tmp_path: Path) -> None:
    result = gate(tmp_path, config=GateConfig(evaluation_splits=["dev", "test"]))
    check = find(result, "splits_present")
    assert not check.passed
    assert check.message == (
        "missing split(s) test (the corpus has: train, dev, eval): "
        "test: missing: no folder or file of the corpus belongs to it"
    )
    assert ("auroc_defined", "eval") not in {(c.name, c.split) for c in result.checks}


def test_rejected_fraction(tmp_path: Path) -> None:
    """16 inputs known to the cache plus one rejected file: 1 / 17 is above 5 %."""
    rejected = [("broken.edf", "edf_truncated", "file shorter than its header says")]
    result = gate(tmp_path, rejected=rejected)
    check = find(result, "rejected_fraction")
    assert not check.passed
    assert check.observed == round(1 / 17, 6)
    assert check.message == (
        "1 of 17 input(s) rejected (5.9%, allowed <= 5.0%); see the rejected list"
    )
    relaxed = gate(tmp_path / "b", config=GateConfig(max_rejected_fraction=0.1), rejected=rejected)
    assert find(relaxed, "rejected_fraction").passed


def test_schema_failure_fails_the_gate(tmp_path: Path) -> None:
    with manifest_of(tmp_path, HEALTHY) as m:
        m.con.execute("UPDATE events SET stop_s = 900 WHERE recording_id = 'dev/p5_t0'")
        result = run_gate(m, GateConfig())
    assert failed(result) == {("schema_events", None)}
    assert "dev/p5_t0.csv_bi event 0: stop_s <= duration_s (stop_s=900, duration_s=600)" in (
        find(result, "schema_events").message
    )
    assert result.verdict is Verdict.FAIL


USER_SUITE = {
    "name": "team_rules",
    "expectations": [
        {
            "type": "expect_column_values_to_be_between",
            "kwargs": {"column": "recordings", "min_value": 3},
            "meta": {
                "check": "min_recordings",
                "severity": "warning",
                "applies_to": "evaluation",
                "message": "{split} split has {recordings} recordings (needs >= {min_value})",
            },
        },
        {  # no meta: GX's own severity and a generic name
            "type": "expect_column_max_to_be_between",
            "kwargs": {"column": "positive_patients",
                       "min_value": {"$PARAMETER": "min_positive_patients"}},
            "severity": "critical",
        },
    ],
}  # fmt: skip


def test_user_suite_by_path(tmp_path: Path) -> None:
    path = tmp_path / "team.json"
    path.write_text(json.dumps(USER_SUITE))
    result = gate(tmp_path, suite=path)
    assert (result.suite_name, result.suite_path) == ("team_rules", str(path))
    assert result.suite_hash == hashlib.sha256(path.read_bytes()).hexdigest()
    # A user suite adds to the packaged one (the floor cannot be replaced away).
    assert {c.name for c in result.checks} >= SUITE_CHECKS
    check = find(result, "min_recordings", "dev")
    assert (check.passed, check.severity, check.observed) == (False, Severity.WARNING, 2)
    assert check.message == "dev split has 2 recordings (needs >= 3)"
    assert ("min_recordings", "train") not in {(c.name, c.split) for c in result.checks}
    generic = find(result, "expect_column_max_to_be_between:positive_patients", "train")
    assert (generic.passed, generic.severity, generic.observed) == (True, Severity.ERROR, 3)
    assert json.loads(generic.model_dump_json())["observed"] == 3  # GX's numpy value made plain
    assert result.verdict is Verdict.PASS  # the only failures are warnings


def test_suite_named_in_config(tmp_path: Path) -> None:
    result = gate(tmp_path, config=GateConfig(suite="binary_table"))
    assert result.suite_name == "binary_table"
    assert find(result, "min_positive_windows", "dev").message == (
        "dev split has 3 positive rows (needs >= 1)"
    )
    # The table suite asks nothing of events, but an EEG corpus keeps the floor's event check.
    assert find(result, "min_positive_events", "dev").message.endswith("[floor]")


def test_parquet_corpus_gets_the_table_suite(tmp_path: Path) -> None:
    with manifest_of(tmp_path, HEALTHY) as m:
        m.set_meta({"format": "parquet"})
        m.con.execute(  # a table source stores window counts per file, not a row per window
            "CREATE TABLE window_counts AS SELECT rec_idx, count(*) AS windows,"
            " count(*) FILTER (WHERE positive) AS positive_windows FROM windows GROUP BY rec_idx"
        )
        m.con.execute(
            "CREATE TABLE groups"
            " (rec_idx INTEGER, group_value VARCHAR, rows BIGINT, positive BIGINT)"
        )
        assert run_gate(m, GateConfig()).suite_name == "binary_table"


@pytest.mark.parametrize("name", ["seizure", "binary_table"])
def test_packaged_suites_are_gx_suites(name: str) -> None:
    """Each expectation names its check, and preflight's severity agrees with GX's own."""
    from preflight.validators import _gx

    suite = load_suite(name)
    assert suite.name == name
    for spec in suite.expectations:
        assert spec.meta.check in SUITE_CHECKS
        assert spec.meta.severity is not None
        gx_severity = "critical" if spec.meta.severity is Severity.ERROR else "warning"
        assert spec.severity == gx_severity
    built = _gx.build_suite(suite, range(len(suite.expectations)))
    assert len(built.expectations) == len(suite.expectations)


def bad_suite(tmp_path: Path, expectation: dict[str, object]) -> Path:
    """A suite file holding one expectation."""
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"name": "bad", "expectations": [expectation]}))
    return path


@pytest.mark.parametrize(
    ("expectation", "needle"),
    [
        ({"type": "expect_column_values_to_be_between", "kwargs": {"column": "seizures"}},
         "expectations.0 (expect_column_values_to_be_between): unknown column 'seizures'"),
        ({"type": "expect_column_values_to_be_between",
          "kwargs": {"column": "windows", "min_value": {"$PARAMETER": "min_windows"}}},
         "unknown $PARAMETER 'min_windows'"),
        ({"type": "expect_column_values_to_be_between", "kwargs": {"column": "windows"},
          "meta": {"message": "{split} has {windowz}"}},
         "meta.message uses unknown field 'windowz'"),
        ({"type": "expect_column_values_to_be_between", "kwargs": {"column": "windows"},
          "meta": {"applies_to": "test"}},
         "not an expectation suite: expectations.0.meta.applies_to"),
        ({"type": "expect_column_values_to_be_between", "kwargs": {"column": "windows"},
          "severity": "fatal"},
         "not an expectation suite: expectations.0.severity"),
        ({"type": "expect_column_values_to_be_wonderful", "kwargs": {"column": "windows"}},
         "Great Expectations rejects it"),
        ({"type": "expect_column_values_to_be_between", "kwargs": {"column": "windows",
          "min_value": "many"}},
         "Great Expectations rejects it"),
    ],
)  # fmt: skip
def test_invalid_suite_is_a_config_error(
    tmp_path: Path, expectation: dict[str, object], needle: str
) -> None:
    path = bad_suite(tmp_path, expectation)
    with pytest.raises(ConfigError) as info:
        gate(tmp_path, suite=path)
    assert needle in str(info.value)
    assert info.value.path == str(path)


def test_suite_file_problems(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"name": "x",\n "expectations": [,]}')
    with pytest.raises(ConfigError, match="not valid JSON") as info:
        gate(tmp_path, suite=broken)
    assert info.value.line == 2
    with pytest.raises(ConfigError, match="suite file not found"):
        gate(tmp_path / "b", suite=tmp_path / "absent.json")
    with pytest.raises(ConfigError, match="unknown suite 'seizures': packaged suites are"):
        gate(tmp_path / "c", suite="seizures")


def test_manifest_without_derived_tables(tmp_path: Path) -> None:
    with Manifest.open(tmp_path / "empty.duckdb") as m, pytest.raises(ManifestError) as info:
        run_gate(m, GateConfig())
    assert "run `preflight audit SOURCE` first" in str(info.value)


def test_great_expectations_is_imported_lazily() -> None:
    """Importing the gate (and the package) never pays the ~3 s GX import."""
    code = (
        "import sys, preflight, preflight.validators.gate, preflight.config; "
        "print('great_expectations' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_usable_recordings_points_at_the_rejected_list_only_when_there_is_one() -> None:
    from preflight.pipelines.audit import reader_checks

    (clean,) = reader_checks({"recordings": 3, "rejected": 0})
    assert clean.passed
    assert clean.message == "3 usable recording(s) (needs >= 1)"
    (empty,) = reader_checks({"recordings": 0, "rejected": 2})
    assert not empty.passed
    assert empty.message == "0 usable recording(s) (needs >= 1); see the rejected list"
