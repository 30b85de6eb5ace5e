"""Label vocabularies: which annotation labels mean seizure and which mean background.

A label outside a format's vocabulary is an ``unknown_label`` rejection, never a guess.
"""

from __future__ import annotations

# TUSZ v2 `.csv` seizure types (`nesz` only in older releases) and the `.csv_bi` term label.
TUSZ_SEIZURE = frozenset(
    {"seiz", "fnsz", "gnsz", "spsz", "cpsz", "absz", "tnsz", "cnsz", "tcsz", "atsz", "mysz", "nesz"}
)
TUSZ_BACKGROUND = frozenset({"bckg"})

# Labels that a generic source (EDF+ embedded annotations) treats as seizure onset markers,
# compared lower-cased. Other EDF+ annotation texts are notes, not classes.
GENERIC_SEIZURE = TUSZ_SEIZURE | frozenset({"seizure", "sz"})


def tusz_is_positive(label: str) -> bool | None:
    """True for a TUSZ seizure label, False for background, None for an unknown label."""
    if label in TUSZ_SEIZURE:
        return True
    if label in TUSZ_BACKGROUND:
        return False
    return None
