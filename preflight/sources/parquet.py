"""Parquet tables of samples (image stamps, tabular rows): options, footers and column checks.

A Parquet source is a folder of Parquet files, one row per sample. The audit reads each file's
footer (a few kilobytes) and, through DuckDB, only the label, group and split columns: never the
samples. This module holds what that needs and nothing of DuckDB:

* ``ParquetOptions``: which column is the label and how its values map to the two classes,
  which column groups rows (for leak checks), where the split comes from;
* ``read_footer``: the file's framing checked, its content fingerprinted and its footer parsed
  (rows, top-level column types) from the same few kilobytes read from its end, or an
  ``InputError`` for a file that is not Parquet (``content_hash`` is the fingerprint alone);
* ``arrow_kind`` and ``column_problems``: a file's columns against the options: missing, or of
  the wrong type.
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_serializer,
    field_validator,
    model_validator,
)

from preflight.errors import InputError, Reason

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "READER_NAME",
    "READER_VERSION",
    "ColumnKind",
    "Footer",
    "LabelClass",
    "ParquetOptions",
    "Problem",
    "arrow_kind",
    "column_problems",
    "content_hash",
    "literal_path",
    "not_parquet",
    "parse_label_map",
    "read_footer",
]

READER_NAME = "parquet"
READER_VERSION = "2"  # 2: per-file label counts, no per-row bitmap
KIND = "parquet"  # ``files.kind`` of Parquet inputs

# Reason codes of rejected Parquet files, kept in one place (see the report's proposal for
# dedicated codes: not_parquet, schema_mismatch, null_label).
NOT_PARQUET = Reason.BAD_FORMAT
SCHEMA_MISMATCH = Reason.BAD_FORMAT
NULL_VALUES = Reason.UNKNOWN_LABEL
OUTSIDE_MAPPING = Reason.UNKNOWN_LABEL
NO_ROWS = Reason.EMPTY_FILE
MIXED_SPLIT = Reason.BAD_FORMAT

_GLOB = frozenset("*?[")  # the characters DuckDB's file globbing interprets
_MAGIC = b"PAR1"
_TAIL = 8  # footer length (little-endian uint32) + magic
_CHUNK = 8192  # data bytes hashed before the footer
_FIRST_READ = 2 * _CHUNK + _TAIL  # read from the end at once: a footer under 8 KiB fits


class LabelClass(StrEnum):
    """What a label value means."""

    POSITIVE = "positive"
    NEGATIVE = "negative"


class ColumnKind(StrEnum):
    """A column's type family, from DuckDB's type name for it."""

    INTEGER = "integer"
    BOOLEAN = "boolean"
    STRING = "string"
    BINARY = "binary"
    OTHER = "other"


def arrow_kind(arrow_type: pa.DataType) -> ColumnKind:
    """The type family of a column whose Arrow type (from the file's footer) is ``arrow_type``."""
    import pyarrow as pa  # here, so that loading a config does not load pyarrow

    if pa.types.is_dictionary(arrow_type):  # a categorical column: DuckDB reads its values
        arrow_type = arrow_type.value_type
    if pa.types.is_integer(arrow_type):
        return ColumnKind.INTEGER
    if pa.types.is_boolean(arrow_type):
        return ColumnKind.BOOLEAN
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return ColumnKind.STRING
    binary = (pa.types.is_binary, pa.types.is_large_binary, pa.types.is_fixed_size_binary)
    if any(is_binary(arrow_type) for is_binary in binary):
        return ColumnKind.BINARY
    return ColumnKind.OTHER


_LENS_MAPPING: dict[int | str, LabelClass] = {0: LabelClass.POSITIVE, 1: LabelClass.NEGATIVE}


class ParquetOptions(BaseModel):
    """How to read a folder of Parquet tables: the ``parquet:`` section of a config file.

    Example (the lens finder's tiers)::

        parquet:
          label_column: is_control
          label_map: {0: positive, 1: negative}
          group_column: region
          sample_column: stamp_npz
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    # The column saying what each row is; with the group and split columns, the only one read.
    label_column: str = Field(default="is_control", min_length=1)
    # Label value -> class. Every value must be listed: a file holding another value, or a null,
    # is rejected (a silent default would hide a mislabelled tier). The lens finder's
    # is_control = 1 means "no lens": negative.
    label_map: dict[int | str, LabelClass] = Field(default_factory=lambda: dict(_LENS_MAPPING))
    # Rows sharing a group (a sky region, a source id) are near-duplicates: a group in two splits
    # leaks. A file whose rows hold one group is placed as that group's "patient".
    group_column: str | None = Field(default=None, min_length=1)
    # Where a file's split comes from: None means its first folder under the root (debug/,
    # train/ ...; "all" for files at the root); else a column holding one value per file.
    split_column: str | None = Field(default=None, min_length=1)
    # The column holding the samples (stamp_npz); when set, a file without it, or where it is
    # not binary, is rejected now rather than failing the training run later.
    sample_column: str | None = Field(default=None, min_length=1)
    # Which files are tables (matched against file names, in every folder but hidden ones).
    file_pattern: str = Field(default="*.parquet", min_length=1)

    @field_serializer("label_map", when_used="json")
    def _pairs(self, label_map: dict[int | str, LabelClass]) -> list[tuple[int | str, str]]:
        """As ``[[value, class], ...]`` in JSON: object keys would turn ``0`` into ``"0"``."""
        return [(k, str(v)) for k, v in label_map.items()]

    @field_validator("label_map", mode="before")
    @classmethod
    def _booleans_are_integers(cls, value: Any) -> Any:
        """YAML ``true: positive`` keys mean 1 (boolean columns are read as 0 / 1); a list of
        ``[value, class]`` pairs (the JSON form) is a mapping."""
        if isinstance(value, list) and all(
            isinstance(p, list | tuple) and len(p) == 2 for p in value
        ):
            value = {k: v for k, v in value}
        if isinstance(value, Mapping):
            return {int(k) if isinstance(k, bool) else k: v for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ParquetOptions:
        classes = set(self.label_map.values())
        if classes != set(LabelClass):
            raise ValueError(
                f"label_map {self.describe_mapping()} must map at least one value to each of "
                "positive and negative"
            )
        if len({type(k) for k in self.label_map}) > 1:
            raise ValueError(
                f"label_map {self.describe_mapping()} mixes numbers and strings; a label column "
                "holds one type"
            )
        named = [c for c in self.columns() if c is not None]
        if len(set(named)) < len(named):
            raise ValueError(f"label, group, split and sample columns must differ: {named}")
        return self

    def columns(self) -> tuple[str | None, ...]:
        """The label, group, split and sample columns (None for those not configured)."""
        return (self.label_column, self.group_column, self.split_column, self.sample_column)

    def values(self, cls: LabelClass) -> list[int | str]:
        """The label values mapped to ``cls``, sorted."""
        return sorted((k for k, v in self.label_map.items() if v is cls), key=repr)

    def numeric_labels(self) -> bool:
        """True when the mapping's keys are numbers (the label column is integer or boolean)."""
        return all(isinstance(k, int) for k in self.label_map)

    def describe_mapping(self) -> str:
        """``0 = positive, 1 = negative``."""
        items = sorted(self.label_map.items(), key=lambda kv: repr(kv[0]))
        return ", ".join(f"{k!r} = {v}" if isinstance(k, str) else f"{k} = {v}" for k, v in items)

    def digest(self) -> str:
        """A short hash of every option: cached file statistics are valid for one digest."""
        return hashlib.blake2b(self.model_dump_json().encode(), digest_size=8).hexdigest()


def parse_label_map(text: str) -> dict[int | str, LabelClass]:
    """``"0=positive,1=negative"`` (a command-line value) as a mapping; integers stay integers.

    Raises:
        ValueError: an item is not ``value=positive`` or ``value=negative``.
    """
    out: dict[int | str, LabelClass] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        value, sep, cls = item.rpartition("=")
        if not sep or not value or cls.strip() not in set(LabelClass):
            raise ValueError(f"{item!r} is not VALUE=positive or VALUE=negative")
        value = value.strip()
        key: int | str = int(value) if value.lstrip("-").isdigit() else value
        out[key] = LabelClass(cls.strip())
    return out


@dataclass(frozen=True, slots=True)
class Problem:
    """Why one file cannot be used."""

    reason: Reason
    message: str


@dataclass(frozen=True, slots=True)
class Footer:
    """What a file's end says: its content fingerprint, rows and top-level column types."""

    content_hash: str
    n_rows: int
    types: dict[str, pa.DataType]  # top-level column -> Arrow type, in the file's order

    def kinds(self) -> dict[str, ColumnKind]:
        """Top-level column -> type family."""
        return {name: arrow_kind(t) for name, t in self.types.items()}


def content_hash(path: str) -> str:
    """Check that ``path`` ends as Parquet does and fingerprint its content without its samples.

    The hash covers the file's size, its footer (schema, row groups with their offsets, sizes and
    statistics) and the 8 KiB of data before it, as the EEG reader fingerprints recordings from a
    few kilobytes: a change or a copy under another name is caught. One read from the end of the
    file usually suffices (a cold disk pays one seek per file).

    Raises:
        InputError: the file is too short, lacks the ``PAR1`` magic at its end or declares a
            footer longer than itself (``NOT_PARQUET``); or it cannot be read (``unreadable``).
    """
    return _fingerprint(*_tail(path))


def read_footer(path: str) -> Footer:
    """``content_hash`` and the footer parsed by pyarrow, from the same bytes (one read).

    Parsing here, file by file, costs about 0.1 ms per footer; DuckDB's ``parquet_schema`` over
    a list of files took twice that (a separate pass, which the label query cannot reuse).

    Raises:
        InputError: as ``content_hash``; or the footer does not parse (``NOT_PARQUET``).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    size, data = _tail(path)
    try:
        meta = pq.read_metadata(pa.BufferReader(data))
        schema = meta.schema.to_arrow_schema()
    except (pa.ArrowException, OSError, ValueError) as exc:
        why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise not_parquet(path, f"its footer does not parse ({why})") from None
    types = {f.name: f.type for f in schema}
    return Footer(_fingerprint(size, data), int(meta.num_rows), types)


def _tail(path: str) -> tuple[int, bytes]:
    """The file's size and its last bytes: the footer, its framing and up to 8 KiB before it."""
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            size = os.fstat(fd).st_size
            if size < len(_MAGIC) + _TAIL:
                raise not_parquet(path, f"{size} bytes, too short")
            data = os.pread(fd, min(size, _FIRST_READ), size - min(size, _FIRST_READ))
            length = struct.unpack("<I", data[-_TAIL:-4])[0]
            if data[-4:] != _MAGIC:
                raise not_parquet(path, "no PAR1 magic at its end (truncated, or another format)")
            if length > size - len(_MAGIC) - _TAIL:
                raise not_parquet(path, f"its footer claims {length} bytes of a {size}-byte file")
            wanted = min(size - len(_MAGIC), length + _TAIL + _CHUNK)
            if wanted > len(data):  # a footer larger than the first read
                data = os.pread(fd, wanted, size - wanted)
        finally:
            os.close(fd)
    except OSError as exc:
        raise InputError(
            f"cannot read: {exc.strerror}", reason=Reason.UNREADABLE, path=path
        ) from None
    return size, data[len(data) - wanted :]


def _fingerprint(size: int, data: bytes) -> str:
    """The content's hash (not the name's: a copy under another name has the same one)."""
    digest = hashlib.blake2b(size.to_bytes(8, "little"), digest_size=16)
    digest.update(data)
    return digest.hexdigest()


def literal_path(path: str) -> str:
    """``path`` as a DuckDB file pattern matching only itself.

    DuckDB expands ``*``, ``?`` and ``[...]`` in every path it is given, even in a list: a file
    named ``part[1].parquet`` would read ``part1.parquet`` (or nothing). Each such character is
    put in a one-character class (``[*]``, ``[?]``, ``[[]``), which matches it literally; a path
    without them is returned unchanged (and is not globbed at all).
    """
    return "".join(f"[{c}]" if c in _GLOB else c for c in path)


def not_parquet(path: str, why: str) -> InputError:
    """The error rejecting a file that is not readable Parquet, with a printable reason."""
    why = " ".join("".join(c if c.isprintable() else " " for c in why).split())
    return InputError(f"not a readable Parquet file: {why}", reason=NOT_PARQUET, path=path)


def column_problems(columns: Mapping[str, ColumnKind], options: ParquetOptions) -> list[Problem]:
    """The ways a file's top-level columns do not fit ``options`` (empty when they fit).

    Args:
        columns: column name -> type family, for one file.
        options: the source options.
    """
    have = ", ".join(columns) or "no columns"
    problems: list[Problem] = []
    wanted = {ColumnKind.INTEGER, ColumnKind.BOOLEAN} if options.numeric_labels() else {
        ColumnKind.STRING
    }  # fmt: skip
    keys = ", ".join(repr(k) for k in sorted(options.label_map, key=repr))
    roles: list[tuple[str, str | None, set[ColumnKind], str]] = [
        ("label", options.label_column, wanted, f"to match the mapping's keys ({keys})"),
        ("group", options.group_column, {ColumnKind.INTEGER, ColumnKind.STRING}, ""),
        ("split", options.split_column, {ColumnKind.INTEGER, ColumnKind.STRING}, ""),
        ("sample", options.sample_column, {ColumnKind.BINARY}, ""),
    ]
    for role, name, allowed, why in roles:
        if name is None:
            continue
        kind = columns.get(name)
        if kind is None:
            problems.append(
                Problem(SCHEMA_MISMATCH, f"no {role} column {name!r} (the file has: {have})")
            )
        elif kind not in allowed:
            need = " or ".join(sorted(allowed))
            problems.append(
                Problem(
                    SCHEMA_MISMATCH,
                    f"{role} column {name!r} is {kind}; it must be {need}"
                    + (f" {why}" if why else ""),
                )
            )
    if not problems and options.numeric_labels() and columns[options.label_column] is (
        ColumnKind.BOOLEAN
    ) and not set(options.label_map) <= {0, 1}:  # fmt: skip
        problems.append(
            Problem(
                SCHEMA_MISMATCH,
                f"label column {options.label_column!r} is boolean; the mapping's keys ({keys}) "
                "must be 0 / 1 (false / true)",
            )
        )
    return problems
