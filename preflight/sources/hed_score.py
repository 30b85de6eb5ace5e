"""The HED-SCORE ``eventType`` vocabulary of BIDS-EEG seizure ``events.tsv`` files (SzCORE).

Taken from ``events.json`` of the epilepsy2bids project (https://github.com/esl-epfl/epilepsy2bids),
MIT License, Copyright (c) the epilepsy2bids authors. The upstream file spells two keys of its
``HED`` block with a stray colon (``sz_gen:``, ``sz_uo:``); its ``Levels`` block, and the files the
project writes, use ``sz_gen`` and ``sz_uo``, which is what this list holds.
"""

from __future__ import annotations

__all__ = ["HED_SCORE_BACKGROUND", "HED_SCORE_SEIZURE"]

# The one background event type: a seizure-free stretch (often one row spanning the recording).
HED_SCORE_BACKGROUND = "bckg"

# Every seizure event type: `sz` (unclassified) and the ILAE 2017 focal / generalized / unknown
# onset subtypes, 70 values. Compared case-sensitively (`sz_gen_m_tonicClonic`).
HED_SCORE_SEIZURE = frozenset(
    {
        "sz",
        "sz_foc",
        "sz_foc_a",
        "sz_foc_a_m",
        "sz_foc_a_m_automatisms",
        "sz_foc_a_m_atonic",
        "sz_foc_a_m_clonic",
        "sz_foc_a_m_spasms",
        "sz_foc_a_m_hyperkinetic",
        "sz_foc_a_m_myoclonic",
        "sz_foc_a_m_tonic",
        "sz_foc_a_nm",
        "sz_foc_a_nm_autonomic",
        "sz_foc_a_nm_behavior",
        "sz_foc_a_nm_cognitive",
        "sz_foc_a_nm_emotional",
        "sz_foc_a_nm_sensory",
        "sz_foc_a_um",
        "sz_foc_ia",
        "sz_foc_ia_m",
        "sz_foc_ia_m_automatisms",
        "sz_foc_ia_m_atonic",
        "sz_foc_ia_m_clonic",
        "sz_foc_ia_m_spasms",
        "sz_foc_ia_m_hyperkinetic",
        "sz_foc_ia_m_myoclonic",
        "sz_foc_ia_m_tonic",
        "sz_foc_ia_nm",
        "sz_foc_ia_nm_autonomic",
        "sz_foc_ia_nm_behavior",
        "sz_foc_ia_nm_cognitive",
        "sz_foc_ia_nm_emotional",
        "sz_foc_ia_nm_sensory",
        "sz_foc_ia_um",
        "sz_foc_ua_m",
        "sz_foc_ua_m_automatisms",
        "sz_foc_ua_m_atonic",
        "sz_foc_ua_m_clonic",
        "sz_foc_ua_m_spasms",
        "sz_foc_ua_m_hyperkinetic",
        "sz_foc_ua_m_myoclonic",
        "sz_foc_ua_m_tonic",
        "sz_foc_ua_nm",
        "sz_foc_ua_nm_autonomic",
        "sz_foc_ua_nm_behavior",
        "sz_foc_ua_nm_cognitive",
        "sz_foc_ua_nm_emotional",
        "sz_foc_ua_nm_sensory",
        "sz_foc_ua_um",
        "sz_foc_f2b",
        "sz_gen",
        "sz_gen_m",
        "sz_gen_m_tonicClonic",
        "sz_gen_m_clonic",
        "sz_gen_m_tonic",
        "sz_gen_m_myoTC",
        "sz_gen_m_myoAtonic",
        "sz_gen_m_atonic",
        "sz_gen_m_spasms",
        "sz_gen_nm",
        "sz_gen_nm_typical",
        "sz_gen_nm_atypical",
        "sz_gen_nm_myoclonic",
        "sz_gen_nm_eyelidMyio",
        "sz_uo",
        "sz_uo_m",
        "sz_uo_m_tonicClonic",
        "sz_uo_m_spasms",
        "sz_uo_nm",
        "sz_uo_nm_behavior",
    }
)
