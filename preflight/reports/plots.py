"""Plots for the HTML report: the data they need (from the manifest) and the figures.

``collect_plot_data`` reads what the plots need with SQL aggregates (never window by window);
``audit_figures`` draws them with matplotlib's object API (no pyplot, so the caller's backend and
global state are left alone; matplotlib is imported only here, lazily) and returns each as an
SVG ``data:`` URI with its glyphs drawn as paths, so the HTML page that embeds them needs no
network, no font and no other file.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from preflight.manifest import queries
from preflight.manifest.store import Manifest, ManifestKind

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure as MplFigure

__all__ = ["Figure", "PlotData", "audit_figures", "collect_plot_data", "figure_data_uri"]

NEGATIVE = "#9aa5b1"
POSITIVE = "#c8102e"
_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf")
_RC: dict[Any, Any] = {  # typed loosely: matplotlib types its keys as literals
    "svg.fonttype": "path",  # glyphs as paths: the SVG needs no font from anywhere
    "svg.hashsalt": "preflight",  # stable element ids, so the same data gives the same file
    "font.size": 9.0,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


@dataclass(frozen=True, slots=True)
class PlotData:
    """What the audit plots show, per split (in report order).

    Attributes:
        windows: split -> (negative windows, positive windows).
        recordings: split -> number of recordings.
        positives_per_recording: split -> positive windows of each recording that has any,
            largest first.
        seizure_durations: split -> duration in seconds of each seizure (merged events).
        table: the source is a table (Parquet): samples are rows and recordings are files,
            and there are no seizures to plot.
    """

    windows: dict[str, tuple[int, int]] = field(default_factory=dict)
    recordings: dict[str, int] = field(default_factory=dict)
    positives_per_recording: dict[str, list[int]] = field(default_factory=dict)
    seizure_durations: dict[str, list[float]] = field(default_factory=dict)
    table: bool = False

    @property
    def sample(self) -> str:
        """What one labelled sample is called: ``windows`` or ``rows``."""
        return "rows" if self.table else "windows"

    @property
    def unit(self) -> str:
        """What holds the samples: ``recordings`` or ``files``."""
        return "files" if self.table else "recordings"


@dataclass(frozen=True, slots=True)
class Figure:
    """An image for the HTML report.

    Attributes:
        title: the heading above it.
        data_uri: the image itself as a ``data:image/...`` URI (see ``figure_data_uri``).
        caption: one or two sentences saying how to read it.
    """

    title: str
    data_uri: str
    caption: str = ""

    def __post_init__(self) -> None:
        if not self.data_uri.startswith("data:image/"):
            raise ValueError("Figure.data_uri must be a data:image/... URI (no external images)")


def collect_plot_data(manifest: Manifest) -> PlotData:
    """Read the plots' data from a manifest's derived tables (SQL aggregates only)."""
    stats = queries.split_stats(manifest)
    order = list(stats)
    positives: dict[str, list[int]] = {name: [] for name in order}
    for row in queries.per_recording(manifest):
        if row["positive_windows"] > 0:
            positives[row["split"]].append(int(row["positive_windows"]))
    durations: dict[str, list[float]] = {name: [] for name in order}
    for split, seconds in queries.seizure_durations(manifest):
        durations[split].append(float(seconds))
    return PlotData(
        windows={
            k: (int(s["windows"] - s["positive_windows"]), int(s["positive_windows"]))
            for k, s in stats.items()
        },
        recordings={k: int(s["recordings"]) for k, s in stats.items()},
        positives_per_recording={k: sorted(v, reverse=True) for k, v in positives.items()},
        seizure_durations=durations,
        table=manifest.kind is ManifestKind.TABLES,
    )


def figure_data_uri(fig: MplFigure) -> str:
    """A matplotlib figure as a ``data:image/svg+xml;base64,...`` URI (deterministic output)."""
    import matplotlib

    buf = io.BytesIO()
    with matplotlib.rc_context(_RC):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def audit_figures(data: PlotData) -> list[Figure]:
    """The three audit plots: class balance per split, positives per recording, durations."""
    import matplotlib

    sample, unit = data.sample, data.unit
    holds = "positives" if data.table else "seizures"
    with matplotlib.rc_context(_RC):
        figures = [
            Figure(
                "Class balance per split",
                figure_data_uri(_balance(data)),
                f"Negative and positive {sample} per split (log scale), and the positive "
                f"fraction. A split without positive {sample} cannot be evaluated.",
            ),
            Figure(
                f"Positive {sample} per {unit[:-1]}",
                figure_data_uri(_per_recording(data)),
                f"Each {unit[:-1]} that holds {holds}, sorted by its positive {sample} (log "
                f"scale). A steep curve means a few {unit} hold most of the positives.",
            ),
        ]
        if not data.table:  # a table has rows, not seizures with durations
            figures.append(
                Figure(
                    "Seizure durations",
                    figure_data_uri(_durations(data)),
                    "Duration of each seizure (overlapping events merged), per split; "
                    "log-spaced bins.",
                )
            )
        return figures


def _new(width: float, height: float, ncols: int = 1) -> tuple[MplFigure, list[Axes]]:
    from matplotlib.figure import Figure as MplFigure

    fig = MplFigure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, list(axes)


def _label(text: str, limit: int = 24) -> str:
    """A data string made safe for matplotlib text (``$`` would start mathtext)."""
    short = text if len(text) <= limit else text[: limit - 1] + "…"
    return short.replace("$", r"\$")


def _colour(i: int) -> str:
    return _PALETTE[i % len(_PALETTE)]


def _empty(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="#555555")
    ax.set_xticks([])
    ax.set_yticks([])


def _balance(data: PlotData) -> MplFigure:
    fig, (counts, fraction) = _new(9.0, 3.2, ncols=2)
    names = list(data.windows)
    sample = data.sample
    if not names:
        _empty(counts, f"no {data.unit}")
        _empty(fraction, f"no {data.unit}")
        return fig
    xs = list(range(len(names)))
    neg = [data.windows[n][0] for n in names]
    pos = [data.windows[n][1] for n in names]
    width = 0.4
    bars_n = counts.bar([x - width / 2 for x in xs], neg, width, color=NEGATIVE, label="negative")
    bars_p = counts.bar([x + width / 2 for x in xs], pos, width, color=POSITIVE, label="positive")
    counts.set_yscale("log")
    counts.set_ylim(bottom=0.8, top=max([*neg, *pos, 1]) * 30)  # headroom for the legend
    _plain_log(counts.yaxis)
    counts.bar_label(bars_n, labels=[f"{v:,}" for v in neg], fontsize=7, padding=2)
    counts.bar_label(bars_p, labels=[f"{v:,}" if v else "" for v in pos], fontsize=7, padding=2)
    for x, p in zip(xs, pos, strict=True):
        if p == 0:  # a zero bar has no height on a log axis: say it in words
            counts.text(x + width / 2, 1.0, "0", ha="center", va="bottom", color=POSITIVE,
                        fontweight="bold")  # fmt: skip
    counts.set_ylabel(f"{sample} (log scale)")
    counts.set_title(f"{sample.capitalize()} per split", loc="left")
    counts.legend(frameon=False, loc="upper right", ncols=2)

    pct = [100.0 * p / (p + n) if p + n else 0.0 for n, p in zip(neg, pos, strict=True)]
    bars = fraction.bar(xs, pct, 0.5, color=POSITIVE)
    fraction.bar_label(bars, labels=[f"{v:.2f} %" for v in pct], fontsize=7, padding=2)
    fraction.set_ylim(0, max([*pct, 0.1]) * 1.25)
    fraction.set_ylabel(f"positive {sample} (%)")
    fraction.set_title("Positive fraction", loc="left")
    for ax in (counts, fraction):
        ax.set_xticks(xs, [_label(n) for n in names])
        for tick, p in zip(ax.get_xticklabels(), pos, strict=True):
            if p == 0:
                tick.set_color(POSITIVE)
                tick.set_fontweight("bold")
    return fig


def _plain_log(axis: Any) -> None:
    """Label a log axis 10, 20, 100 ... rather than in powers of ten (matplotlib's default)."""
    from matplotlib.ticker import LogFormatter

    axis.set_major_formatter(LogFormatter())
    axis.set_minor_formatter(LogFormatter(minor_thresholds=(2, 0.5)))


def _per_recording(data: PlotData) -> MplFigure:
    from matplotlib.ticker import MaxNLocator

    fig, (ax,) = _new(9.0, 3.4)
    series = {k: v for k, v in data.positives_per_recording.items() if v}
    if not series:
        _empty(ax, f"no {data.unit[:-1]} has a positive {data.sample[:-1]}")
        return fig
    for i, name in enumerate(data.positives_per_recording):
        counts = data.positives_per_recording[name]
        if not counts:
            continue
        total = data.recordings.get(name, len(counts))
        ax.plot(
            range(1, len(counts) + 1), counts, drawstyle="steps-mid", marker="o",
            markersize=2.5 if len(counts) > 40 else 4, color=_colour(i),
            label=f"{_label(name)}: {len(counts)} of {total} {data.unit}",
        )  # fmt: skip
    longest = max(len(v) for v in series.values())
    ax.set_xlim(0, longest + 1)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_yscale("log")
    _plain_log(ax.yaxis)
    ax.set_xlabel(
        "files with positives, by rank" if data.table else "recordings with seizures, by rank"
    )
    ax.set_ylabel(f"positive {data.sample}")
    ax.legend(frameon=False, fontsize=8)
    return fig


def _durations(data: PlotData) -> MplFigure:
    import numpy as np
    from matplotlib.ticker import MaxNLocator

    fig, (ax,) = _new(9.0, 3.4)
    values = [d for v in data.seizure_durations.values() for d in v if d > 0]
    if not values:
        _empty(ax, "no seizures")
        return fig
    low, high = min(values), max(values)
    n_bins = int(np.clip(np.sqrt(len(values)), 8, 40))
    bins = (
        np.geomspace(low, high * 1.0001, n_bins + 1)
        if high > low
        else np.array([low * 0.9, low * 1.1])
    )
    for i, (name, durations) in enumerate(data.seizure_durations.items()):
        positive = [d for d in durations if d > 0]
        if not positive:
            continue
        ax.hist(
            positive, bins=bins.tolist(), histtype="step", linewidth=1.5, color=_colour(i),
            label=f"{_label(name)}: {len(positive)} seizures, median {np.median(positive):.0f} s",
        )  # fmt: skip
    ax.set_xscale("log")
    _plain_log(ax.xaxis)
    ax.set_xlabel("seizure duration (s)")
    ax.set_ylabel("seizures")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(frameon=False, fontsize=8)
    return fig
