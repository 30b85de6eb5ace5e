"""Which event labels each reader may write, as data, for the ``events`` schema.

Readers already reject labels outside their format's vocabulary; the schema checks the manifest
again so a manifest written by an older or foreign tool, or a reader bug, cannot slip a mislabelled
event past the gate. The rule is the same for every reader: a positive event carries one of the
reader's seizure labels; a background event carries one of its background labels, or, where the
format has free-text notes (EDF+ annotations, TUSZ v1.5 TUH event classes), any text that is not a
seizure label.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from preflight.sources import bids, chbmit, edf, edfplus, seizeit, siena, tusz
from preflight.sources.hed_score import HED_SCORE_BACKGROUND, HED_SCORE_SEIZURE
from preflight.sources.labels import GENERIC_SEIZURE, TUSZ_BACKGROUND, TUSZ_SEIZURE

__all__ = ["DEFAULT_VOCABULARY", "VOCABULARIES", "Vocabulary", "labels_match"]


@dataclass(frozen=True)
class Vocabulary:
    """The labels one reader writes.

    Attributes:
        seizure: labels of positive events.
        background: labels of background events; None when any text that is not a seizure label
            may be a background note.
        casefold: compare labels stripped and lower-cased (EDF+ free text).
    """

    seizure: frozenset[str]
    background: frozenset[str] | None
    casefold: bool = False

    def describe(self) -> str:
        """The vocabulary in a few words, for failure messages."""
        seizure = ", ".join(sorted(self.seizure)[:4]) + (" ..." if len(self.seizure) > 4 else "")
        if self.background is None:
            return f"seizure: {seizure}; background: any other text"
        return f"seizure: {seizure}; background: {', '.join(sorted(self.background)) or 'none'}"


_EDF_PLUS = Vocabulary(seizure=frozenset(GENERIC_SEIZURE), background=None, casefold=True)

# Keyed by the reader name the parse cache records for the annotation file (``files.reader``).
VOCABULARIES: dict[str, Vocabulary] = {
    tusz.CSV_READER_NAME: Vocabulary(TUSZ_SEIZURE, TUSZ_BACKGROUND),
    # v1.5 symbol tables also hold TUH event classes (eyem, artf ...) kept as background.
    tusz.TSE_READER_NAME: Vocabulary(TUSZ_SEIZURE, None),
    tusz.LBL_READER_NAME: Vocabulary(TUSZ_SEIZURE, None),
    bids.READER_NAME: Vocabulary(HED_SCORE_SEIZURE, frozenset({HED_SCORE_BACKGROUND})),
    chbmit.READER_NAME: Vocabulary(frozenset({chbmit.SEIZURE_LABEL}), frozenset()),
    siena.READER_NAME: Vocabulary(frozenset({siena.SEIZURE_LABEL}), frozenset()),
    seizeit.READER_NAME: Vocabulary(seizeit.SEIZURE_TYPES, frozenset()),
    edf.READER_NAME: _EDF_PLUS,  # EDF+ annotations live in the EDF, whose reader is the header's
    edfplus.READER_NAME: _EDF_PLUS,
}

# For events whose reader is unknown (a manifest built by hand or by another tool): every seizure
# label preflight knows, EDF+ spellings included; background free.
DEFAULT_VOCABULARY = Vocabulary(
    seizure=frozenset(label.lower() for v in VOCABULARIES.values() for label in v.seizure),
    background=None,
    casefold=True,
)


def labels_match(labels: pd.Series, positive: pd.Series, readers: pd.Series) -> pd.Series:
    """Whether each event's label belongs to its reader's vocabulary for its class.

    Vectorized per reader (a handful of groups), never a Python loop over events.

    Args:
        labels: the ``label`` column.
        positive: the ``positive`` column.
        readers: the reader of each event's annotation file (missing: ``DEFAULT_VOCABULARY``).

    Returns:
        A boolean Series aligned with ``labels``.
    """
    ok = pd.Series(np.zeros(len(labels), dtype=bool), index=labels.index)
    known = readers.isin(list(VOCABULARIES))
    groups = [(VOCABULARIES[r], readers == r) for r in readers[known].unique()]
    groups.append((DEFAULT_VOCABULARY, ~known))
    for vocab, mask in groups:
        if not mask.any():
            continue
        text = labels[mask].astype(str)
        if vocab.casefold:
            text = text.str.strip().str.lower()
        seizure = text.isin(vocab.seizure)
        background = ~seizure if vocab.background is None else text.isin(vocab.background)
        pos = positive[mask].astype(bool)
        ok[mask] = (pos & seizure) | (~pos & background)
    return ok
