"""The script a user writes without preflight: windows and seizure windows per split.

pandas reads every ``.csv_bi``, pyedflib every EDF header; NumPy counts 10 s windows (stride 10 s,
kept when inside the recording) and those overlapping a ``seiz`` event. Prints JSON counts.

    python benchmarks/peer_pandas.py ROOT [--labels-only] [--windows-out FILE.parquet]
"""

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyedflib

WINDOW = STRIDE = 10.0


def duration_of(csv_bi: Path, labels_only: bool) -> float:
    if labels_only:  # "# duration = 733.00 secs" in the csv_bi header
        with open(csv_bi) as lines:
            line = next(line for line in lines if line.startswith("# duration"))
        return float(line.split("=")[1].split()[0])
    reader = pyedflib.EdfReader(str(csv_bi.with_suffix(".edf")))
    try:
        return reader.getFileDuration()
    finally:
        reader.close()


def window_labels(duration: float, events: pd.DataFrame) -> np.ndarray:
    n = int((duration - WINDOW) // STRIDE) + 1 if duration >= WINDOW else 0
    starts = np.arange(n) * STRIDE
    labels = np.zeros(n, dtype=bool)
    for start, stop in zip(events["start_time"], events["stop_time"], strict=True):
        labels |= np.minimum(starts + WINDOW, stop) - np.maximum(starts, start) > 0
    return labels


def main(root: Path, labels_only: bool, windows_out: str | None) -> None:
    counts: dict[str, dict[str, int]] = {}
    tables = []
    for csv_bi in sorted(root.rglob("*.csv_bi")):
        split = csv_bi.relative_to(root).parts[1]  # edf/<split>/<patient>/...
        events = pd.read_csv(csv_bi, comment="#")
        labels = window_labels(duration_of(csv_bi, labels_only), events[events["label"] == "seiz"])
        c = counts.setdefault(split, {"recordings": 0, "windows": 0, "positive_windows": 0})
        c["recordings"] += 1
        c["windows"] += len(labels)
        c["positive_windows"] += int(labels.sum())
        if windows_out:
            tables.append(pd.DataFrame({"split": split, "label": labels.astype("int8")}))
    if windows_out:
        pd.concat(tables, ignore_index=True).to_parquet(windows_out)
    print(json.dumps(counts, sort_keys=True))


if __name__ == "__main__":
    args = sys.argv[1:]
    out = args[args.index("--windows-out") + 1] if "--windows-out" in args else None
    main(Path(args[0]), "--labels-only" in args, out)
