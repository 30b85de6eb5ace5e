"""Decoding annotation text files the same way for every reader.

Real files carry byte-order marks, mixed CRLF/LF line endings (Siena) and, now and then, bytes
that are not UTF-8. Readers get a list of lines without their endings; undecodable bytes raise an
``AnnotationError`` naming the line.
"""

from __future__ import annotations

from pathlib import Path

from preflight.errors import AnnotationError, Reason

_BOM = b"\xef\xbb\xbf"


def read_lines(path: str | Path) -> list[str]:
    """Read a text annotation file as lines (no endings), tolerating BOM and CRLF.

    Args:
        path: the file.

    Returns:
        The lines, without line endings. Trailing empty lines are kept out.

    Raises:
        AnnotationError: ``unreadable`` when the file cannot be opened, ``empty_file`` when it
            holds nothing but whitespace, ``undecodable`` (with the line) when it is not UTF-8.
    """
    try:
        with open(path, "rb") as fh:  # not Path(): this runs once per file of a large corpus
            raw = fh.read()
    except OSError as exc:
        raise AnnotationError(
            f"cannot read file: {exc.strerror or exc}", reason=Reason.UNREADABLE, path=path
        ) from exc
    return decode_lines(raw, path=path)


def decode_lines(raw: bytes, *, path: str | Path) -> list[str]:
    """Decode bytes read from ``path`` into lines; see ``read_lines``."""
    if raw.startswith(_BOM):
        raw = raw[len(_BOM) :]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise AnnotationError(
            f"byte 0x{raw[exc.start]:02x} at offset {exc.start} is not valid UTF-8",
            reason=Reason.UNDECODABLE,
            path=path,
            line=line,
        ) from exc
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise AnnotationError("file is empty", reason=Reason.EMPTY_FILE, path=path)
    return lines
