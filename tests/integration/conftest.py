"""Small TUSZ-layout corpora written file by file with a real EDF writer (edfio)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import edfio
import numpy as np
import pytest

CSV_HEADER = (
    "# version = csv_v1.0.0\n# bname = {name}\n# duration = {duration:.2f} secs\n"
    "# montage_file = $NEDC_NFC/lib/nedc_eas_default_montage.txt\n#\n"
    "channel,start_time,stop_time,label,confidence\n"
)


@dataclass
class Corpus:
    """A corpus root and a writer for one TUSZ recording (EDF + csv_bi) at a time."""

    root: Path

    def folder(self, split: str, patient: str, session: str = "s001_2015") -> Path:
        d = self.root / "edf" / split / patient / session / "01_tcp_ar"
        d.mkdir(parents=True, exist_ok=True)
        return d

    def recording(
        self,
        split: str,
        patient: str,
        t: int,
        duration: int,
        seizures: list[tuple[float, float]] = (),  # type: ignore[assignment]
        *,
        edf: bool = True,
        csv_bi: bool = True,
    ) -> Path:
        """Write ``<patient>_s001_t<t>.edf`` and its ``.csv_bi``; returns the EDF path."""
        d = self.folder(split, patient)
        name = f"{patient}_s001_t{t:03d}"
        if edf:
            # Seeded per recording: identical bytes would be a duplicate recording to the gate.
            rng = np.random.default_rng([t, *patient.encode()])
            signals = [
                edfio.EdfSignal(rng.normal(size=duration * 16), sampling_frequency=16, label=lab)
                for lab in ("EEG FP1-REF", "EEG F7-REF")
            ]
            edfio.Edf(signals).write(d / f"{name}.edf")
        if csv_bi:
            rows = [f"TERM,{s:.4f},{e:.4f},seiz,1.0000\n" for s, e in seizures]
            if not seizures:
                rows = [f"TERM,0.0000,{duration:.4f},bckg,1.0000\n"]
            text = CSV_HEADER.format(name=name, duration=duration) + "".join(rows)
            (d / f"{name}.csv_bi").write_text(text)
        return d / f"{name}.edf"


@pytest.fixture
def corpus(tmp_path: Path) -> Corpus:
    """An empty corpus root in a temporary folder."""
    return Corpus(tmp_path / "corpus")


@pytest.fixture
def healthy(corpus: Corpus) -> Corpus:
    """Two splits, three patients, four recordings, two seizures (statistics known by hand).

    train: aaaaaaab t000 120 s seizure 15-35 s (windows 1, 2, 3 positive with 10 s windows);
           aaaaaaab t001 100 s background; aaaaaaac t000 60 s seizure 0-5 s (window 0).
    dev:   aaaaaaad t000 60 s seizure 50-60 s (window 5).
    """
    corpus.recording("train", "aaaaaaab", 0, 120, [(15, 35)])
    corpus.recording("train", "aaaaaaab", 1, 100)
    corpus.recording("train", "aaaaaaac", 0, 60, [(0, 5)])
    corpus.recording("dev", "aaaaaaad", 0, 60, [(50, 60)])
    return corpus


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """One intra-op thread for a module's training runs: a ~3k-parameter model gains nothing
    from more, and on a shared CPU threads spinning for their turn cost several times the work
    itself."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
