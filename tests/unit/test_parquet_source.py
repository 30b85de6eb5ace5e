"""The Parquet reader's pieces: options, label maps, footers, column checks; the stamp synth."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from preflight.cli import app
from preflight.data.stamps import decode_stamp
from preflight.errors import InputError, UsageError
from preflight.sources import parquet as pqs
from preflight.sources.parquet import ColumnKind, LabelClass, ParquetOptions, parse_label_map
from preflight.synth.stamps import (
    STAMPS_TRUTH_FILE,
    StampDefect,
    StampSpec,
    synthesize_stamps,
)

POS, NEG = LabelClass.POSITIVE, LabelClass.NEGATIVE


# options ----------------------------------------------------------------------------------


def test_default_options_are_the_lens_finders() -> None:
    options = ParquetOptions()
    assert options.label_column == "is_control"
    assert options.values(POS) == [0]
    assert options.values(NEG) == [1]
    assert options.describe_mapping() == "0 = positive, 1 = negative"


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"label_map": {0: "positive", 1: "positive"}}, "each of positive and negative"),
        ({"label_map": {0: "positive", "no": "negative"}}, "mixes numbers and strings"),
        ({"group_column": "is_control"}, "must differ"),
        ({"label_map": {0: "positive", 1: "unsure"}}, "positive"),
        ({"label_columns": "x"}, "Extra inputs"),
    ],
)
def test_inconsistent_options_are_refused(changes: dict[str, object], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        ParquetOptions.model_validate(changes)


def test_options_survive_a_json_round_trip_with_their_key_types() -> None:
    for options in (ParquetOptions(), ParquetOptions(label_map={"0": POS, "1": NEG})):
        assert ParquetOptions.model_validate_json(options.model_dump_json()) == options


def test_yaml_boolean_keys_mean_one_and_zero() -> None:
    options = ParquetOptions.model_validate({"label_map": {True: "positive", False: "negative"}})
    assert options.label_map == {1: POS, 0: NEG}


def test_the_digest_changes_with_any_option() -> None:
    assert ParquetOptions().digest() == ParquetOptions().digest()
    assert ParquetOptions().digest() != ParquetOptions(group_column="region").digest()


def test_parse_label_map_keeps_integers_integers() -> None:
    assert parse_label_map("0=positive, 1=negative") == {0: POS, 1: NEG}
    assert parse_label_map("lens=positive,-1=negative") == {"lens": POS, -1: NEG}
    with pytest.raises(ValueError, match="VALUE=positive"):
        parse_label_map("0=yes")


# footers and columns ----------------------------------------------------------------------


def test_read_footer_gives_rows_and_top_level_column_kinds(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    table = pa.table(
        {"is_control": pa.array([0, 1], pa.int8()), "region": ["a", "b"],
         "stamp_npz": pa.array([b"x", b"y"]), "flag": [True, False], "ra": [1.0, 2.0],
         "tags": [[1, 2], [3]], "after": pa.array([7, 8], pa.uint32()),
         "tier": pa.array(["train", "dev"]).dictionary_encode()}
    )  # fmt: skip
    pq.write_table(table, path)
    footer = pqs.read_footer(str(path))
    assert footer.n_rows == 2
    assert footer.content_hash == pqs.content_hash(str(path))
    assert list(footer.types) == [
        "is_control", "region", "stamp_npz", "flag", "ra", "tags", "after", "tier",
    ]  # fmt: skip
    assert footer.kinds() == {
        "is_control": ColumnKind.INTEGER, "region": ColumnKind.STRING,
        "stamp_npz": ColumnKind.BINARY, "flag": ColumnKind.BOOLEAN, "ra": ColumnKind.OTHER,
        "tags": ColumnKind.OTHER, "after": ColumnKind.INTEGER, "tier": ColumnKind.STRING,
    }  # fmt: skip


def test_read_footer_rejects_a_garbled_footer(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"is_control": pa.array([0, 1], pa.int8())}), path)
    data = bytearray(path.read_bytes())
    length = int.from_bytes(data[-8:-4], "little")
    data[-8 - length : -8] = b"\xff" * length
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match="footer does not parse") as caught:
        pqs.read_footer(str(path))
    assert caught.value.reason is pqs.NOT_PARQUET


def test_content_hash_reads_a_few_kilobytes_and_sees_copies_and_changes(tmp_path: Path) -> None:
    path, copy, other = tmp_path / "a.parquet", tmp_path / "b.parquet", tmp_path / "c.parquet"
    pq.write_table(pa.table({"is_control": [0, 1, 0, 1]}), path)
    pq.write_table(pa.table({"is_control": [1, 0, 1, 0]}), other)  # same footer, other data
    copy.write_bytes(path.read_bytes())
    assert pqs.content_hash(str(copy)) == pqs.content_hash(str(path))
    assert pqs.content_hash(str(other)) != pqs.content_hash(str(path))


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"PAR1", "too short"),
        (b"not parquet at all, not at all", "no PAR1 magic at its end"),
        (b"PAR1" + b"\0" * 8 + b"\xff\xff\x00\x00PAR1", "claims 65535 bytes"),
    ],
)
def test_content_hash_rejects_what_is_not_parquet(tmp_path: Path, data: bytes, match: str) -> None:
    path = tmp_path / "bad.parquet"
    path.write_bytes(data)
    with pytest.raises(InputError, match=match) as caught:
        pqs.content_hash(str(path))
    assert caught.value.reason is pqs.NOT_PARQUET


@pytest.mark.parametrize(
    ("columns", "options", "expected"),
    [
        ({"is_control": ColumnKind.INTEGER}, ParquetOptions(), []),
        ({"is_control": ColumnKind.BOOLEAN}, ParquetOptions(), []),
        ({"is_control": ColumnKind.STRING}, ParquetOptions(), ["is string; it must be"]),
        ({"other": ColumnKind.INTEGER}, ParquetOptions(), ["no label column 'is_control'"]),
        (
            {"is_control": ColumnKind.BOOLEAN},
            ParquetOptions(label_map={0: POS, 2: NEG}),
            ["must be 0 / 1"],
        ),
        (
            {"label": ColumnKind.INTEGER},
            ParquetOptions(label_column="label", label_map={"lens": POS, "none": NEG}),
            ["is integer; it must be string"],
        ),
        (
            {"is_control": ColumnKind.INTEGER, "stamp_npz": ColumnKind.STRING},
            ParquetOptions(group_column="region", sample_column="stamp_npz"),
            ["no group column 'region'", "sample column 'stamp_npz' is string"],
        ),
    ],
)
def test_column_problems(
    columns: dict[str, ColumnKind], options: ParquetOptions, expected: list[str]
) -> None:
    problems = pqs.column_problems(columns, options)
    assert len(problems) == len(expected)
    for problem, text in zip(problems, expected, strict=True):
        assert text in problem.message
        assert problem.reason is pqs.SCHEMA_MISMATCH


# the stamp synth --------------------------------------------------------------------------


def test_synth_writes_exact_tiers_and_decodable_stamps(tmp_path: Path) -> None:
    spec = StampSpec(files_per_tier=2, rows_per_file=10, row_group_rows=4, control_fraction=0.3)
    corpus = synthesize_stamps(tmp_path / "s", spec)
    for tier in ("debug", "train", "dev"):
        table = pq.read_table(corpus.root / tier)
        truth = corpus.tiers[tier]
        assert (truth.rows, truth.negatives) == (20, 6)
        assert table.column("is_control").to_pylist().count(1) == truth.negatives
        assert decode_stamp(table.column("stamp_npz")[0].as_py()).shape == (3, 64, 64)
    meta = pq.read_metadata(corpus.root / "train" / "part-0000.parquet")
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [4, 4, 2]
    truth = json.loads(corpus.truth_path.read_text())
    assert truth["tiers"]["train"]["positives"] == 14


def test_synth_is_reproducible_and_replaces_only_its_own_dataset(tmp_path: Path) -> None:
    spec = StampSpec(files_per_tier=1, rows_per_file=4, defects=frozenset({StampDefect.GROUP_LEAK}))
    first = synthesize_stamps(tmp_path / "s", spec)
    data = (first.root / "dev" / "part-0000.parquet").read_bytes()
    with pytest.raises(UsageError, match="not empty"):
        synthesize_stamps(tmp_path / "s", spec)
    again = synthesize_stamps(tmp_path / "s", spec, overwrite=True)
    assert (again.root / "dev" / "part-0000.parquet").read_bytes() == data
    assert again.tiers["dev"].regions == again.tiers["train"].regions
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "mine.txt").write_text("keep")
    with pytest.raises(UsageError, match=f"holds no {STAMPS_TRUTH_FILE}"):
        synthesize_stamps(tmp_path / "other", spec, overwrite=True)


def test_synth_cli_writes_and_reports_exit_codes(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["synth", str(tmp_path / "s"), "--layout", "stamps", "--files", "1", "--rows", "4"]
    args += ["--defect", "one_class_tier"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "debug 1 files, 4 lenses / 0 controls" in result.output
    assert "--group-column region" in result.output
    assert runner.invoke(app, args).exit_code == 2
    assert runner.invoke(app, [*args, "--force"]).exit_code == 0


def test_pack_groups_by_key_and_cuts_batches_of_about_batch_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Files of one label type share a read_parquet call; a call closes once it holds
    BATCH_ROWS rows (used by the audit's counts and by training's row labels)."""
    from preflight.scanning import parquet_read

    monkeypatch.setattr(parquet_read, "BATCH_ROWS", 10)
    items = [("a", 6), ("b", 3), ("a", 6), ("a", 2), ("b", 20), ("b", 1)]
    batches = parquet_read.pack(items, key=lambda i: i[0], rows=lambda i: i[1])
    assert batches == [[("a", 6), ("a", 6)], [("a", 2)], [("b", 3), ("b", 20)], [("b", 1)]]
