"""Decoding annotation text files the same way for every reader.

Real files carry byte-order marks, mixed CRLF/LF line endings (Siena) and, now and then, bytes
that are not UTF-8. Readers get a list of lines without their endings; undecodable bytes raise an
``AnnotationError`` naming the line.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from preflight.errors import AnnotationError, Reason

_BOM = b"\xef\xbb\xbf"


def open_regular(path: str | Path) -> int:
    """Open ``path`` for reading, refusing anything but a regular file (after symlinks).

    A FIFO named like an input would block a plain ``open`` until something writes to it, and a
    link to ``/dev/zero`` would read forever: the file is opened without blocking and checked
    on the open descriptor (so it cannot be swapped between a check and the open).

    Returns:
        The open file descriptor; the caller closes it.

    Raises:
        OSError: the file cannot be opened, or is not a regular file (``strerror`` says so).
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        os.close(fd)
        raise
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise OSError(errno.EINVAL, "not a regular file", str(path))
    return fd


def read_regular(path: str | Path) -> bytes:
    """The whole content of the regular file ``path`` (see ``open_regular``)."""
    with os.fdopen(open_regular(path), "rb") as fh:
        return fh.read()


def read_lines(path: str | Path) -> list[str]:
    """Read a text annotation file as lines (no endings), tolerating BOM and CRLF.

    Args:
        path: the file.

    Returns:
        The lines, without line endings. Trailing empty lines are kept out.

    Raises:
        AnnotationError: ``unreadable`` when the file cannot be opened or is not a regular file
            (a FIFO, a device, a folder), ``empty_file`` when it
            holds nothing but whitespace, ``undecodable`` (with the line) when it is not UTF-8.
    """
    try:
        raw = read_regular(path)
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
