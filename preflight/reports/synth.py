"""What ``preflight synth`` wrote, in one paragraph: counts, where, and where the truth is."""

from __future__ import annotations

from preflight.synth.corpus import SynthCorpus
from preflight.synth.stamps import StampCorpus

__all__ = ["audit_hint", "corpus_summary", "stamps_summary"]


def corpus_summary(corpus: SynthCorpus, seconds: float) -> str:
    """One paragraph: what was written, where, and where the truth is."""
    totals = corpus.summary()["totals"]
    splits = ", ".join(
        f"{name} {stats['recordings']}" for name, stats in corpus.summary()["splits"].items()
    )
    kind = "sparse " if corpus.spec.sparse else ""
    lines = [
        f"Wrote {totals['recordings']} {kind}{corpus.spec.layout} recordings "
        f"({totals['hours']:.1f} h, {totals['patients']} patients"
        + (f"; {splits}" if splits else "")
        + f") to {corpus.root} in {seconds:.1f} s.",
        f"{totals['events']} seizures in {totals['positive_recordings']} recordings "
        f"({totals['positive_hours'] * 60:.1f} min of seizure).",
    ]
    if corpus.spec.defects:
        defects = ", ".join(sorted(corpus.spec.defects))
        lines.append(f"Defects: {defects}; {totals['rejected']} inputs an audit must reject.")
    lines.append(f"Truth: {corpus.truth_path}")
    return " ".join(lines)


def audit_hint(corpus: StampCorpus) -> str:
    """The audit command for this dataset (with the proposed ``audit`` Parquet options)."""
    options = corpus.options()
    return (
        f"preflight audit {corpus.root} --format parquet --label-column {options.label_column} "
        f"--label-map 0=positive,1=negative --group-column {options.group_column} "
        f"--sample-column {options.sample_column}"
    )


def stamps_summary(corpus: StampCorpus, seconds: float) -> str:
    """What was written, per tier, where the truth is, and how to audit it."""
    tiers = "; ".join(
        f"{name} {t.files} files, {t.positives} lenses / {t.negatives} controls"
        for name, t in corpus.tiers.items()
    )
    lines = [
        f"Wrote {len(corpus.files)} Parquet files to {corpus.root} in {seconds:.1f} s: {tiers}."
    ]
    if corpus.spec.defects:
        lines.append(f"Defects: {', '.join(sorted(corpus.spec.defects))}.")
    if corpus.bad_files:
        lines.append(f"{len(corpus.bad_files)} broken files an audit must reject.")
    lines.append(f"Truth: {corpus.truth_path}. Audit: {audit_hint(corpus)}")
    return " ".join(lines)
