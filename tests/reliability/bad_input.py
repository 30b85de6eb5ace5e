"""What a catalogue case is, and the small writers the cases are made of.

A case names what it writes (``make``), the file that holds the problem (``path``, relative to the
corpus root), the reason code that file must be rejected with (``reason``, or ``ACCEPTED`` when
the input is allowed and must be audited, or ``CONFIG_ERROR`` for a config the CLI refuses with
exit code 2) and, for text, the 1-based ``line``. ``also`` lists the rejections the problem causes
elsewhere (the EDF whose annotations were rejected, and the reverse) and ``delta`` the change in
the number of usable recordings: everything else must still be audited.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.reliability.corpus import (
    P,
    csv_bi,
    patch,
)

ACCEPTED = "accepted"  # the input is allowed: audited, not rejected
CONFIG_ERROR = "config_error"  # the config is refused: exit 2 naming the file (and line)
CONFIG = "preflight.yaml"  # where config cases write their config, in the corpus root

EDF, ANNOTATION, LAYOUT, CONFIG_KIND = "edf", "annotation", "layout", "config"
KINDS = (EDF, ANNOTATION, LAYOUT, CONFIG_KIND)


@dataclass(frozen=True)
class Outcome:
    """What auditing a corpus with one case planted gave, for a case's extra ``check``."""

    root: Path
    exit_code: int
    output: str
    manifest: Path


@dataclass(frozen=True)
class BadInput:
    """One bad input: how to plant it, and what the audit must say about it.

    Attributes:
        id: a stable identifier (the test id).
        kind: ``edf``, ``annotation``, ``layout`` or ``config``.
        description: one line for the catalogue table.
        make: plants the problem into a healthy corpus root.
        reason: the reason code of the rejection, ``ACCEPTED`` or ``CONFIG_ERROR``.
        line: the 1-based line the rejection (or config error) names, None when it names none.
        path: the input holding the problem, relative to the corpus root.
        also: other ``(path, reason)`` rejections the problem causes.
        delta: change in the number of usable recordings of the healthy corpus.
        needle: a fragment the rejection's message (or the CLI's error) must contain.
        check: more assertions on the outcome (merged seizures, escaped reports ...).
        unprivileged: audit as an unprivileged user (permissions do not stop root).
        bug: set while the package gets this case wrong: the test is a strict xfail.
        timeout_s: the audit is interrupted (and the case fails) after this long.
    """

    id: str
    kind: str
    description: str
    make: Callable[[Path], None]
    reason: str
    line: int | None
    path: str
    also: tuple[tuple[str, str], ...] = ()
    delta: int = 0
    needle: str | None = None
    check: Callable[[Outcome], None] | None = None
    unprivileged: bool = False
    bug: str | None = None
    timeout_s: float = 300.0

    @property
    def exit_code(self) -> int:
        """What ``preflight audit`` must exit with (the catalogue config rejects any rejection)."""
        if self.reason == CONFIG_ERROR:
            return 2
        return 0 if self.reason == ACCEPTED else 1


# --- small writers -----------------------------------------------------------------------------

BCKG_EDF = P.tusz_bckg + ".edf"  # 100 s, 2 signals, no seizure; its csv_bi is BCKG_CSV
BCKG_CSV = P.tusz_bckg + ".csv_bi"
BCKG_NAME = P.tusz_bckg.rsplit("/", 1)[1]
TSE_EDF = P.v15_dir + "/00000258_s002_t000.edf"
LBL_EDF = P.v15_dir + "/00000258_s002_t001.edf"
CHB02_EDF = P.chbmit_dir + "/chb01_02.edf"
SIENA_EDF = P.siena_dir + "/PN00-1.edf"
EDF_REJECTS_CSV = ((BCKG_CSV, "recording_rejected"),)
CSV_REJECTS_EDF = ((BCKG_EDF, "annotation_rejected"),)


def write(rel: str, content: str | bytes) -> Callable[[Path], None]:
    """A ``make`` that writes ``content`` to ``rel`` (creating folders)."""

    def make(root: Path) -> None:
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")

    return make


def bckg_csv(*rows: str, duration: int = 100) -> Callable[[Path], None]:
    """A ``make`` that rewrites the background recording's ``.csv_bi`` with ``rows``."""
    return write(BCKG_CSV, csv_bi(BCKG_NAME, duration, list(rows)))


def patch_bckg(at: tuple[int, int], value: object) -> Callable[[Path], None]:
    """A ``make`` that overwrites one header field of the background recording's EDF."""
    return lambda root: patch(root / BCKG_EDF, at, value)


def truncate(rel: str, size: int) -> Callable[[Path], None]:
    def make(root: Path) -> None:
        target = root / rel
        target.write_bytes(target.read_bytes()[:size])

    return make


def replace(rel: str, old: str, new: str) -> Callable[[Path], None]:
    """A ``make`` that replaces ``old`` (which must occur) by ``new`` in the text file ``rel``."""

    def make(root: Path) -> None:
        target = root / rel
        text = target.read_text(encoding="utf-8")
        assert old in text, (old, rel)
        target.write_text(text.replace(old, new, 1), encoding="utf-8")

    return make


def in_manifest(outcome: Outcome, sql: str, params: list[object] | None = None) -> list[tuple]:
    """Rows of a read query on the audited manifest."""
    from preflight.manifest.store import Manifest

    with Manifest.open(outcome.manifest, read_only=True) as m:
        return m.query(sql, params)
