"""Published errata of real corpora: corrections as data, applied by the readers on request.

Each entry names the annotation file it belongs to, the recording (as the file lists it), the
field, the exact text the published file holds and the text to read instead. A reader applies an
entry only when the text matches byte for byte, so a file the publisher has since fixed (or a
user's own list) is read as it stands, and every correction applied becomes a ``Note`` that the
manifest keeps and the reports show. ``--no-errata`` (``audit.errata: false``) turns the table
off for a user who wants the raw reading.

The facts are in FORMATS.md, "Published errata"; the SzCORE converter ``epilepsy2bids`` (MIT)
applies the same corrections.
"""

from __future__ import annotations

from dataclasses import dataclass

from preflight.sources.records import Note

__all__ = ["ERRATA", "ERRATUM_CODE", "SZCORE", "Erratum", "find"]

SZCORE = "SzCORE epilepsy2bids converter"
ERRATUM_CODE = "erratum_applied"


@dataclass(frozen=True, slots=True)
class Erratum:
    """One correction of one published annotation file.

    Attributes:
        dataset: the corpus (``siena``).
        patient: the annotation file's patient, as its name gives it (``PN00``).
        listed: the recording's file name as the list writes it (``PN00-3.edf``).
        field: what is corrected: ``file name``, ``registration start time``,
            ``seizure end time`` ... (the list's own key, lower case).
        published: the value exactly as published (after the colon, stripped).
        corrected: the value to read instead.
        why: one sentence a user can check against the data.
        source: who publishes or applies the correction.
    """

    dataset: str
    patient: str
    listed: str
    field: str
    published: str
    corrected: str
    why: str
    source: str = SZCORE

    def note(self, line: int) -> Note:
        """The note that records this correction, applied at ``line``."""
        message = (
            f"{self.listed}: {self.field} {self.published!r} read as {self.corrected!r}"
            f" (published erratum: {self.why})"
        )
        return Note(ERRATUM_CODE, message, line, self.source)


_NAME_DIFFERS = "the list names a file that the release holds under another name"
_END_TYPO = "the listed end falls after the registration end 18.57.13"
_STRAY_SPACE = "a stray space inside the clock time"

# (patient, listed file, field, published value, corrected value, why): one line per erratum.
_SIENA = (
    ("PN01", "PN01-1.edf", "file name", "PN01-1.edf", "PN01.edf", _NAME_DIFFERS),
    ("PN06", "PN06-1.edf", "file name", "PN06-1.edf", "PNO6-1.edf", _NAME_DIFFERS),
    ("PN06", "PN06-2.edf", "file name", "PN06-2.edf", "PNO6-2.edf", _NAME_DIFFERS),
    ("PN06", "PN06-4.edf", "file name", "PN06-4.edf", "PNO6-4.edf", _NAME_DIFFERS),
    ("PN11", "PN11-1.edf", "file name", "PN11-1.edf", "PN11-.edf", _NAME_DIFFERS),
    ("PN00", "PN00-3.edf", "seizure end time", "19.29.29", "18.29.29", _END_TYPO),
    ("PN10", "PN10-7.8.9.edf", "registration start time", "1 6.49.25", "16.49.25", _STRAY_SPACE),
)

ERRATA: tuple[Erratum, ...] = tuple(Erratum("siena", *row) for row in _SIENA)

_BY_KEY = {(e.dataset, e.patient, e.listed, e.field, e.published): e for e in ERRATA}


def find(dataset: str, patient: str, listed: str, field: str, published: str) -> Erratum | None:
    """The erratum for this exact published value, or None.

    Args:
        dataset: the corpus (``siena``).
        patient: the annotation file's patient (``PN00``), case as in ``Erratum.patient``.
        listed: the recording's file name as the list writes it.
        field: the list's key, lower case with single spaces (``seizure end time``).
        published: the value after the colon, stripped.
    """
    return _BY_KEY.get((dataset, patient, listed, field, published))
