"""MNE's header scan: ``read_raw_edf(preload=False)`` on every EDF, windows per split.

Durations only (MNE reads no TUSZ annotation file). Prints JSON counts.

    python benchmarks/peer_mne.py ROOT
"""

import json
import sys
from pathlib import Path

import mne

WINDOW = STRIDE = 10.0


def main(root: Path) -> None:
    mne.set_log_level("ERROR")
    counts: dict[str, dict[str, int]] = {}
    for edf in sorted(root.rglob("*.edf")):
        raw = mne.io.read_raw_edf(edf, preload=False)
        duration = raw.n_times / raw.info["sfreq"]
        c = counts.setdefault(edf.relative_to(root).parts[1], {"recordings": 0, "windows": 0})
        c["recordings"] += 1
        c["windows"] += int((duration - WINDOW) // STRIDE) + 1 if duration >= WINDOW else 0
    print(json.dumps(counts, sort_keys=True))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
