"""Who and where a recording is: patient, session and declared split from paths and names."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from preflight.scanning.discover import Kind
from preflight.sources import bids, chbmit, seizeit, siena, tusz

UNSPLIT = "all"  # the split name of recordings whose corpus declares no split


@dataclass(frozen=True, slots=True)
class Placement:
    """Patient, session and declared split of one recording."""

    patient: str
    session: str | None
    split: str


def place(rel_path: str, key: str, label_kind: Kind | None, patient_field: str = "") -> Placement:
    """Work out a recording's patient, session and split.

    Args:
        rel_path: the recording's root-relative path (EDF, or annotation file when labels-only).
        key: the recording key (file name without extension).
        label_kind: the kind of the annotation file that labels it, if any.
        patient_field: the EDF header's patient field, used when nothing else names a patient.

    Returns:
        The TUSZ layout's split/patient/session when the path follows it, BIDS subject and
        session, CHB-MIT, Siena and SeizeIT patients from file names; otherwise the EDF+
        patient code or, failing that, the recording's folder name.
    """
    layout = tusz.parse_tusz_path(rel_path)
    if layout is not None:
        return Placement(layout.patient, layout.session, layout.split or UNSPLIT)
    bl = bids.parse_bids_path(rel_path)
    if bl is not None:
        return Placement(bl.subject, bl.session, UNSPLIT)
    if label_kind is Kind.CHBMIT_SUMMARY:
        return Placement(chbmit.patient_from_name(key), None, UNSPLIT)
    if label_kind is Kind.SIENA_LIST:
        return Placement(siena.patient_from_name(key), None, UNSPLIT)
    if label_kind is Kind.SEIZEIT_TSV:
        return Placement(seizeit.patient_from_name(key), None, UNSPLIT)
    code = patient_field.split(" ")[0] if patient_field else ""
    if code and code.upper() != "X":
        return Placement(code, None, UNSPLIT)
    folder = posixpath.basename(posixpath.dirname(rel_path)) or key
    return Placement(folder, None, UNSPLIT)
