"""Each row's label of an audited Parquet source, read from its files when training needs it.

The manifest of a Parquet source holds exact counts per file, not a row per sample
(``parquet_derive``): the audit never materializes 10 million label rows it does not need.
Training does need them (the sampler weighs each row, the dataset yields its label), so
``read_row_labels`` reads the label column of the splits' files with DuckDB (never the samples),
maps it with the audit's options (``meta.parquet_options``), and checks every file's rows and
positive rows against the audit's counts: labels that changed since the audit raise rather than
train silently.

Rows come in (``rec_idx``, row) order, where ``rec_idx`` identifies a file
(``recordings.rec_idx``) and ``row`` is the row number within it: the order of
``WindowIndex.load`` and ``StampSource.load``, so a filter on ``rec_idx`` applies to both. Reading
costs about what the audit's label query costs (a second or two per 10 million rows); memory is
a few bytes per row.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import duckdb
import numpy as np

from preflight.errors import UsageError
from preflight.manifest import recordings
from preflight.manifest.store import Manifest
from preflight.scanning.parquet_judge import LABEL_CODE, label_column, label_params
from preflight.scanning.parquet_read import pack
from preflight.sources import parquet as pqs
from preflight.sources.parquet import ParquetOptions

__all__ = ["RowLabels", "read_row_labels"]


@dataclass(frozen=True)
class RowLabels:
    """Every row of some files, in (``rec_idx``, row) order.

    Attributes:
        files: int32 [F], the files' ``rec_idx``, ascending.
        offsets: int64 [F + 1], the position of each file's row 0 (and the total).
        rec_idx: int32 [N], each row's file.
        row: int32 [N], each row's number in its file.
        positive: bool [N], each row's label.
    """

    files: np.ndarray
    offsets: np.ndarray
    rec_idx: np.ndarray
    row: np.ndarray
    positive: np.ndarray


def read_row_labels(
    manifest: Manifest, splits: tuple[str, ...], *, root: str | os.PathLike[str] | None = None
) -> RowLabels:
    """Each row's label of the files of ``splits``, read from the files.

    Args:
        manifest: the manifest of an audited Parquet source (read-only is enough).
        splits: split names (unknown ones select no file).
        root: the data root (default: where the last audit found it).

    Raises:
        UsageError: a file cannot be read, or its rows or positive rows differ from the audit's
            counts (it changed since: run ``preflight audit`` again).
    """
    options = ParquetOptions.model_validate_json(manifest.meta("parquet_options") or "{}")
    base = str(root if root is not None else manifest.meta("parquet_root") or ".")
    listed = recordings.table_files(manifest, splits)
    counts = np.array([n for _, _, n, _, _ in listed], dtype=np.int64)  # (F,)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)  # (F + 1,)
    positive = np.zeros(int(offsets[-1]), dtype=bool)  # (N,)
    seen = np.zeros((len(listed), 2), dtype=np.int64)  # (F, 2) rows, positive rows read
    for batch in _batches(listed):
        paths = [os.path.join(base, listed[i][1]) for i in batch]
        code, where, row = _read(options, paths)
        slot = np.asarray(batch, dtype=np.int64)[where]  # (R,) file position 0..F-1
        bad = ((code != 0) & (code != 1)) | (row >= counts[slot])  # (R,) null, unmapped, extra
        if bad.any():
            _stale(manifest, [listed[i][1] for i in np.unique(slot[bad])])
        positive[offsets[slot] + row] = code == 1
        seen[:, 0] += np.bincount(slot, minlength=len(listed))
        seen[:, 1] += np.bincount(slot, weights=code == 1, minlength=len(listed)).astype(np.int64)
    audited = np.array([(n, p) for _, _, n, p, _ in listed], dtype=np.int64).reshape(-1, 2)
    if (changed := np.flatnonzero((seen != audited).any(axis=1))).size:
        _stale(manifest, [listed[i][1] for i in changed])
    files = np.array([rec for rec, _, _, _, _ in listed], dtype=np.int32)
    return RowLabels(
        files=files,
        offsets=offsets,
        rec_idx=np.repeat(files, counts),
        row=(np.arange(offsets[-1]) - np.repeat(offsets[:-1], counts)).astype(np.int32),
        positive=positive,
    )


def _batches(listed: list[tuple[int, str, int, int, str]]) -> list[list[int]]:
    """Positions of files whose label column has one type, about ``BATCH_ROWS`` rows each."""
    return pack(range(len(listed)), lambda i: listed[i][4], lambda i: listed[i][2])


def _read(options: ParquetOptions, paths: list[str]) -> tuple[np.ndarray, ...]:
    """(label code int8 [R], file index in ``paths`` int64 [R], row int64 [R]) of every row."""
    sql = (
        f"SELECT coalesce({LABEL_CODE}, -2) AS code, CAST(file_index AS BIGINT) AS f,"
        " CAST(file_row_number AS BIGINT) AS row"
        f" FROM (SELECT file_index, file_row_number, {label_column(options)}"
        "       FROM read_parquet($paths, file_row_number = true))"
    )
    params = {**label_params(options), "paths": [pqs.literal_path(p) for p in paths]}
    con = duckdb.connect()
    try:
        cols = con.execute(sql, params).fetchnumpy()
    except duckdb.Error as exc:
        why = str(exc).strip().splitlines()[0]
        raise UsageError(
            f"cannot read the labels of {len(paths)} file(s) ({why}); run `preflight audit` again",
            path=paths[0],
        ) from None
    finally:
        con.close()
    return (
        np.asarray(cols["code"], dtype=np.int8),
        np.asarray(cols["f"], dtype=np.int64),
        np.asarray(cols["row"], dtype=np.int64),
    )


def _stale(manifest: Manifest, paths: list[str]) -> None:
    """Raise: the files' labels differ from the audit's counts."""
    more = f" and {len(paths) - 3} more" if len(paths) > 3 else ""
    raise UsageError(
        f"{len(paths)} file(s) hold other labels than the audit counted: "
        f"{', '.join(paths[:3])}{more}; run `preflight audit` again",
        path=manifest.path,
    )
