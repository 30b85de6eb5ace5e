"""Parquet sources end to end: synthetic stamp tiers scanned, split, gated and reported."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from preflight.config import GateConfig, PreflightConfig
from preflight.data.window_index import WindowIndex
from preflight.manifest.queries import split_stats
from preflight.manifest.store import Manifest
from preflight.pipelines.audit import audit
from preflight.reports.model import AuditReport
from preflight.results import Verdict
from preflight.scanning import parquet_read
from preflight.scanning.parquet_read import read_tables
from preflight.scanning.parquet_scan import discover_tables, is_parquet_corpus, scan_parquet
from preflight.sources import parquet as pqs
from preflight.sources.parquet import LabelClass, ParquetOptions
from preflight.synth.stamps import (
    BAD_FILE_REASON,
    StampCorpus,
    StampDefect,
    StampSpec,
    synthesize_stamps,
)
from preflight.validators.group_leaks import group_disjoint

# Two files of 16 stamps per tier, half controls: 16 lenses per tier, 8 needed per batch of 32.
SMALL = StampSpec(files_per_tier=2, rows_per_file=16, row_group_rows=8)
CONFIG = PreflightConfig(gate=GateConfig(batch_size=16))

Audit = Callable[..., AuditReport]


@pytest.fixture
def audit_parquet() -> Audit:
    """``audit(root)`` of a Parquet source (found by ``--format auto``), with the stamp
    dataset's options by default."""

    def run(root: Path, options: ParquetOptions | None = None) -> AuditReport:
        config = CONFIG.model_copy(update={"parquet": options or StampCorpus.options()})
        return audit(root, config=config)

    return run


def make(tmp_path: Path, *defects: StampDefect) -> StampCorpus:
    """A small synthetic stamp dataset with ``defects``."""
    spec = StampSpec(**{**SMALL.__dict__, "defects": frozenset(defects)})
    return synthesize_stamps(tmp_path / "stamps", spec)


def check(report: AuditReport, name: str, split: str | None = None):  # type: ignore[no-untyped-def]
    """The one check record of that name (and split)."""
    (found,) = [c for c in report.checks if c.name == name and c.split == split]
    return found


def test_per_tier_class_counts_are_exact(tmp_path: Path, audit_parquet: Audit) -> None:
    corpus = make(tmp_path)
    report = audit_parquet(corpus.root)
    assert report.verdict is Verdict.PASS, [c.message for c in report.checks if not c.passed]
    assert set(report.splits) == {"debug", "train", "dev"}
    for tier, truth in corpus.tiers.items():
        stats = report.splits[tier]
        assert (stats.recordings, stats.windows) == (truth.files, truth.rows)
        assert stats.positive_windows == truth.positives
        assert stats.windows - stats.positive_windows == truth.negatives
        assert stats.patients == len(set(truth.regions))
    assert report.totals.rejected == 0
    assert report.provenance["format"] == "parquet"


def test_one_class_debug_tier_fails_the_gate_naming_it(
    tmp_path: Path, audit_parquet: Audit
) -> None:
    corpus = make(tmp_path, StampDefect.ONE_CLASS_TIER)
    report = audit_parquet(corpus.root)
    assert report.verdict is Verdict.FAIL
    both = check(report, "both_classes", "debug")
    assert not both.passed
    assert both.message.startswith(
        "debug split holds one class (positive only): 32 positive and 0 negative rows"
    )
    assert not check(report, "auroc_defined", "debug").passed
    assert check(report, "both_classes", "train").passed
    assert check(report, "both_classes", "dev").passed


def test_a_region_in_two_tiers_is_a_leak(tmp_path: Path, audit_parquet: Audit) -> None:
    corpus = make(tmp_path, StampDefect.GROUP_LEAK)
    report = audit_parquet(corpus.root)
    leak = check(report, "patient_disjoint")
    region = corpus.tiers["train"].regions[0]
    assert not leak.passed
    assert f"{region} in train, dev" in leak.message
    assert report.verdict is Verdict.FAIL


def test_a_group_spread_over_files_and_splits_is_a_leak(tmp_path: Path) -> None:
    """Groups that vary inside a file: group_disjoint finds what patient_disjoint cannot."""
    root = tmp_path / "mixed"
    for tier, groups in (("train", ["a", "b", "a", "c"]), ("dev", ["d", "b", "d", "d"])):
        (root / tier).mkdir(parents=True)
        table = pa.table({"is_control": pa.array([0, 1, 0, 1], pa.int8()), "src": groups})
        pq.write_table(table, root / tier / "part.parquet")
    options = ParquetOptions(group_column="src")
    with Manifest.open(tmp_path / "m.duckdb") as m:
        scan_parquet(root, m, options)
        result = group_disjoint(m)
        patients = m.query("SELECT patient FROM recordings ORDER BY 1")
    assert result is not None
    assert not result.passed
    assert result.message == "1 group(s) in more than one split (allowed: 0): b in train, dev"
    assert patients == [("dev/part",), ("train/part",)]  # no one group per file: no patient


def test_bad_files_are_each_rejected_with_a_reason_and_the_rest_audited(
    tmp_path: Path, audit_parquet: Audit
) -> None:
    corpus = make(tmp_path, StampDefect.BAD_FILES)
    report = audit_parquet(corpus.root)
    rejected = {r.path: r for r in report.rejected}
    assert set(rejected) == set(corpus.bad_files)
    for path, kind in corpus.bad_files.items():
        assert rejected[path].reason == BAD_FILE_REASON[kind]
    messages = {kind: rejected[path].message for path, kind in corpus.bad_files.items()}
    assert "no label column 'is_control'" in messages["missing_label"]
    assert "is null in 2 of 8 rows (first at row 3)" in messages["null_labels"]
    assert "outside the mapping in 1 of 8 rows (2; first at row 2)" in messages["outside_mapping"]
    assert "'is_control' is string; it must be boolean or integer" in messages["wrong_type"]
    assert "footer does not parse" in messages["corrupt_footer"]
    train = report.splits["train"]
    assert (train.windows, train.positive_windows) == (32, 16)
    assert not check(report, "rejected_fraction").passed  # 5 of 11 files


def test_every_file_ends_in_the_manifest_or_rejected(tmp_path: Path, audit_parquet: Audit) -> None:
    corpus = make(tmp_path, StampDefect.BAD_FILES)
    (corpus.root / "train" / "notes.txt").write_text("not a table")
    report = audit_parquet(corpus.root)
    with Manifest.open(report.manifest.path, read_only=True) as m:
        kept = {r[0] for r in m.query("SELECT path FROM recordings")}
    rejected = {r.path for r in report.rejected}
    tables = {p.relative_to(corpus.root).as_posix() for p in corpus.root.rglob("*.parquet")}
    assert kept | rejected == tables
    assert not kept & rejected
    assert report.scan is not None
    assert report.scan.ignored == 2  # notes.txt and the truth file


def test_unreadable_data_pages_reject_only_their_file(tmp_path: Path, audit_parquet: Audit) -> None:
    """A file whose footer parses but whose label pages are garbage fails its batch; the batch
    is read again file by file and only that file is rejected."""
    corpus = make(tmp_path)
    path = corpus.root / "dev" / "part-0001.parquet"
    meta = pq.read_metadata(path)
    column = meta.schema.to_arrow_schema().get_field_index("is_control")
    chunk = meta.row_group(0).column(column)
    data = bytearray(path.read_bytes())
    start = chunk.data_page_offset
    data[start : start + chunk.total_compressed_size] = b"\x13" * chunk.total_compressed_size
    path.write_bytes(bytes(data))
    report = audit_parquet(corpus.root)
    (bad,) = report.rejected
    assert bad.path == "dev/part-0001.parquet"
    assert bad.message.startswith("not a readable Parquet file: its label columns do not decode")
    assert report.splits["dev"].recordings == 1
    assert report.splits["train"].windows == corpus.tiers["train"].rows


def test_rescan_of_an_unchanged_dataset_reads_nothing(tmp_path: Path, audit_parquet: Audit) -> None:
    corpus = make(tmp_path)
    first = audit_parquet(corpus.root)
    second = audit_parquet(corpus.root)
    assert first.scan is not None
    assert second.scan is not None
    assert (first.scan.read, first.scan.rebuilt) == (6, True)
    assert (second.scan.read, second.scan.reused, second.scan.rebuilt) == (0, 6, False)
    assert second.model_dump(exclude={"scan"}) == first.model_dump(exclude={"scan"})


def test_touched_changed_and_deleted_files(tmp_path: Path, audit_parquet: Audit) -> None:
    corpus = make(tmp_path)
    first = audit_parquet(corpus.root)
    touched = corpus.root / "train" / "part-0000.parquet"
    st = touched.stat()
    os.utime(touched, ns=(st.st_atime_ns, st.st_mtime_ns + 10**10))
    report = audit_parquet(corpus.root)
    assert report.scan is not None
    assert (report.scan.read, report.scan.rebuilt) == (1, False)  # same footer, same content
    assert report.manifest.fingerprint == first.manifest.fingerprint
    table = pq.read_table(touched)
    flipped = table.set_column(1, "is_control", pa.array([0] * table.num_rows, pa.int8()))
    pq.write_table(flipped, touched)
    report = audit_parquet(corpus.root)
    assert report.scan is not None
    assert (report.scan.read, report.scan.rebuilt) == (1, True)
    truth = corpus.tiers["train"]
    assert report.splits["train"].positive_windows == truth.positives + 8
    (corpus.root / "dev" / "part-0000.parquet").unlink()
    report = audit_parquet(corpus.root)
    assert report.scan is not None
    assert (report.scan.read, report.scan.deleted) == (0, 1)
    assert report.splits["dev"].recordings == 1


def test_changed_options_read_every_file_again(tmp_path: Path, audit_parquet: Audit) -> None:
    corpus = make(tmp_path)
    audit_parquet(corpus.root)
    inverted = ParquetOptions(label_map={1: LabelClass.POSITIVE, 0: LabelClass.NEGATIVE})
    report = audit_parquet(corpus.root, inverted)
    assert report.scan is not None
    assert report.scan.read == 6
    assert report.splits["train"].positive_windows == corpus.tiers["train"].negatives


def test_split_from_a_column_and_a_file_holding_two_splits(tmp_path: Path) -> None:
    root = tmp_path / "flat"
    root.mkdir()
    rows = {"label": ["lens", "none", "none", "lens"], "tier": ["train"] * 4}
    pq.write_table(pa.table(rows), root / "a.parquet")
    pq.write_table(pa.table({**rows, "tier": ["dev"] * 4}), root / "b.parquet")
    pq.write_table(pa.table({**rows, "tier": ["dev", "dev", "train", "dev"]}), root / "c.parquet")
    options = ParquetOptions(
        label_column="label",
        label_map={"lens": LabelClass.POSITIVE, "none": LabelClass.NEGATIVE},
        split_column="tier",
    )
    with Manifest.open(tmp_path / "m.duckdb") as m:
        scan_parquet(root, m, options)
        splits = m.query("SELECT recording_id, split, declared_split FROM recordings ORDER BY 1")
        rejected = m.query("SELECT path, reason, message FROM rejected")
    assert splits == [("a", "train", "train"), ("b", "dev", "dev")]
    ((path, reason, message),) = rejected
    assert (path, reason) == ("c.parquet", pqs.MIXED_SPLIT)
    assert "split column 'tier' holds 2 values" in message


def test_paths_with_quotes_and_spaces(tmp_path: Path, audit_parquet: Audit) -> None:
    corpus = make(tmp_path)
    odd = corpus.root / "train" / 'it\'s a "part".parquet'
    shutil.copyfile(corpus.root / "train" / "part-0000.parquet", odd)
    (corpus.root / "train" / "part-0000.parquet").unlink()
    report = audit_parquet(corpus.root)
    assert report.totals.rejected == 0
    assert report.splits["train"].windows == corpus.tiers["train"].rows


@pytest.mark.parametrize("name", ["part[0].parquet", "part*.parquet", "part?.parquet"])
def test_file_names_holding_glob_characters_are_read_literally(
    tmp_path: Path, audit_parquet: Audit, name: str
) -> None:
    """DuckDB globs every path it reads: ``part[0]`` would read ``part0`` and ``part?`` every
    ``partX``. A decoy beside each odd name holds other labels; the counts must be the file's."""
    corpus = make(tmp_path)
    train = corpus.root / "train"
    shutil.move(train / "part-0000.parquet", train / name)
    decoy = pa.table({"is_control": pa.array([1] * 5, pa.int8()), "region": ["decoy"] * 5})
    for other in ("part0.parquet", "partX.parquet"):
        pq.write_table(decoy.append_column("stamp_npz", pa.array([b"x"] * 5)), train / other)
    report = audit_parquet(corpus.root)
    assert report.totals.rejected == 0
    train_stats = report.splits["train"]
    assert train_stats.windows == corpus.tiers["train"].rows + 10
    assert train_stats.positive_windows == corpus.tiers["train"].positives


def test_files_typing_the_label_differently_are_all_read(tmp_path: Path) -> None:
    """int8, int64 and boolean label columns in one tier: read in one batch per type, by the
    audit and by training."""
    root = tmp_path / "typed"
    (root / "train").mkdir(parents=True)
    for name, array in (
        ("a", pa.array([0, 1, 1], pa.int8())),
        ("b", pa.array([0, 0, 1], pa.int64())),
        ("c", pa.array([False, True, True])),
    ):
        pq.write_table(pa.table({"is_control": array}), root / "train" / f"{name}.parquet")
    with Manifest.open(tmp_path / "m.duckdb") as m:
        scan_parquet(root, m, ParquetOptions())
        counts = m.query(
            "SELECT r.recording_id, w.positive_windows FROM window_counts w"
            " JOIN recordings r USING (rec_idx) ORDER BY 1"
        )
        index = WindowIndex.load(m, "train")
    assert counts == [("train/a", 1), ("train/b", 2), ("train/c", 1)]
    assert index.positive.tolist() == [True, False, False, True, True, False, True, False, False]


def test_a_folder_is_a_parquet_corpus_when_it_holds_tables(tmp_path: Path) -> None:
    corpus = make(tmp_path)
    assert is_parquet_corpus(corpus.root)
    hidden = tmp_path / "hidden"
    (hidden / ".cache").mkdir(parents=True)
    shutil.copyfile(corpus.root / "dev" / "part-0000.parquet", hidden / ".cache" / "x.parquet")
    assert not is_parquet_corpus(hidden)
    assert not is_parquet_corpus(corpus.root, ParquetOptions(file_pattern="*.pq"))


def test_manifest_counts_equal_a_pyarrow_count_of_every_file(tmp_path: Path) -> None:
    """The audit stores counts, not rows: per file, per (file, group) and per split they must
    equal a count of the files themselves; every broken file is rejected, none counted. A file
    whose group varies by row is added so that ``groups`` holds several values per file."""
    corpus = make(tmp_path, StampDefect.BAD_FILES)
    mixed = pq.read_table(corpus.root / "dev" / "part-0000.parquet")
    regions = pa.array([f"m{i % 3}" for i in range(mixed.num_rows)])
    pq.write_table(mixed.set_column(2, "region", regions), corpus.root / "dev" / "mixed.parquet")
    with Manifest.open(tmp_path / "m.duckdb") as m:
        scan_parquet(corpus.root, m, StampCorpus.options())
        files = m.query(
            "SELECT r.path, r.split, w.windows, w.positive_windows FROM window_counts w"
            " JOIN recordings r USING (rec_idx) ORDER BY r.path"
        )
        groups = m.query(
            "SELECT r.path, g.group_value, g.rows, g.positive FROM groups g"
            " JOIN recordings r USING (rec_idx) ORDER BY 1, 2"
        )
        rejected = {p for (p,) in m.query("SELECT path FROM rejected")}
        stats = {s: (v["windows"], v["positive_windows"]) for s, v in split_stats(m).items()}
    truth_files, truth_groups = [], []
    for path in sorted(corpus.root.rglob("*.parquet")):
        rel = path.relative_to(corpus.root).as_posix()
        if rel in corpus.bad_files:
            continue
        frame = pq.read_table(path, columns=["is_control", "region"]).to_pandas()
        positive = frame.is_control == 0
        truth_files.append((rel, rel.split("/")[0], len(frame), int(positive.sum())))
        by_region = positive.groupby(frame.region).agg(["size", "sum"])
        truth_groups += [(rel, g, int(n), int(p)) for g, (n, p) in by_region.iterrows()]
    assert files == truth_files
    assert groups == sorted(truth_groups)
    assert rejected == set(corpus.bad_files)
    for split in ("train", "dev", "debug"):
        mine = [(n, p) for _, s, n, p in truth_files if s == split]
        assert stats[split] == (sum(n for n, _ in mine), sum(p for _, p in mine))


def test_a_manifest_of_the_per_row_layout_is_read_again(tmp_path: Path) -> None:
    """The earlier cache held a label bitmap per file; its tables are dropped, files re-read."""
    corpus = make(tmp_path)
    with Manifest.open(tmp_path / "m.duckdb") as m:
        m.con.execute(
            "CREATE TABLE parquet_files (path VARCHAR, file_id INTEGER, n_rows BIGINT,"
            " n_positive BIGINT, positive_bits BLOB, group_value VARCHAR, split_value VARCHAR)"
        )
        m.con.execute(
            "CREATE TABLE parquet_groups (file_id INTEGER, group_value VARCHAR, rows BIGINT)"
        )
        result = scan_parquet(corpus.root, m, StampCorpus.options())
        train = split_stats(m)["train"]
    assert result.read == 6
    assert (train["windows"], train["positive_windows"]) == (
        corpus.tiers["train"].rows,
        corpus.tiers["train"].positives,
    )


def test_footers_read_in_worker_processes_agree_with_one_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = make(tmp_path, StampDefect.BAD_FILES)
    found, _, _ = discover_tables(corpus.root, "*.parquet")

    def read() -> list[tuple[object, ...]]:
        result = read_tables(str(corpus.root), found, StampCorpus.options())
        return [(f.content_hash, f.n_rows, f.n_positive, f.types, f.problems) for f in result.files]

    alone = read()
    monkeypatch.setattr(parquet_read, "PARALLEL_MIN_FILES", 1)
    assert read() == alone
    assert sum(1 for *_, problems in alone if problems) == len(corpus.bad_files)


def test_a_fifo_and_names_not_utf8_are_rejected_and_the_rest_audited(
    tmp_path: Path, audit_parquet: Audit
) -> None:
    """A FIFO named like a table would block its reader forever; a name that is not UTF-8
    cannot be stored or handed to pyarrow. Each is rejected by name; nothing else changes."""
    corpus = make(tmp_path)
    train = corpus.root / "train"
    os.mkfifo(train / "pipe.parquet")
    shutil.copy(train / "part-0000.parquet", os.fsencode(train) + b"/caf\xe9.parquet")
    os.mkdir(os.fsencode(corpus.root / "dev") + b"/f\xff")
    report = audit_parquet(corpus.root)
    rejected = {r.path: (r.reason, r.message) for r in report.rejected}
    assert rejected == {
        "train/pipe.parquet": ("unreadable", "not a regular file: not read"),
        "train/caf\\xe9.parquet": (
            "undecodable",
            "file name is not valid UTF-8 (bytes shown as \\xNN): rename it",
        ),
        "dev/f\\xff": (
            "undecodable",
            "folder name is not valid UTF-8 (bytes shown as \\xNN): rename it; its files are "
            "not audited",
        ),
    }
    assert report.splits["train"].windows == corpus.tiers["train"].rows
    assert report.splits["dev"].windows == corpus.tiers["dev"].rows
