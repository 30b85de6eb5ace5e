"""preflight: stop a training run before it spends accelerator time on data that cannot teach it.

The Python API mirrors the command line::

    import preflight

    report = preflight.audit("/data/tusz/edf")           # scan + checks -> AuditReport
    print(report.verdict, report.splits["dev"].positive_windows)
    with preflight.Manifest.open(report.manifest.path, read_only=True) as m:
        stats = preflight.split_stats(m)                  # per-split statistics, from SQL
"""

from typing import Any

from preflight._version import __version__
from preflight.config import AuditConfig, GateConfig, PreflightConfig, SplitConfig, load_config
from preflight.data.window_index import WindowIndex
from preflight.errors import (
    AnnotationError,
    ConfigError,
    InputError,
    ManifestError,
    NoUsableInputError,
    PreflightError,
    Reason,
    RecordingError,
    UsageError,
)
from preflight.manifest.queries import per_recording, split_stats, totals
from preflight.manifest.store import Manifest
from preflight.manifest.windows import WindowParams
from preflight.pipelines.audit import audit
from preflight.reports.model import AuditReport
from preflight.results import CheckResult, Severity, Verdict
from preflight.scanning.discover import SourceFormat
from preflight.scanning.scan import ScanOptions, ScanResult, scan
from preflight.split import SplitMethod, SplitSummary, build_split

# Heavy imports (torch, MNE, pandas, pandera, matplotlib, Jinja2, Great Expectations)
# load on first use, so `import preflight` and every CLI command start fast.
_LAZY = {
    "BalancedSampler": "preflight.data.sample",
    "BatchGuard": "preflight.validators.batch_guard",
    "EEGWindowDataset": "preflight.data.dataset",
    "GuardStopped": "preflight.validators.batch_guard",
    "GuardedLoader": "preflight.validators.batch_guard",
    "ManifestRecorder": "preflight.validators.quarantine",
    "Montage": "preflight.data.montage",
    "PositiveBatchSampler": "preflight.data.sample",
    "Preprocessing": "preflight.data.cache",
    "WindowCache": "preflight.data.cache",
    "build_model": "preflight.models.registry",
    "window_metrics": "preflight.evaluation.metrics",
    "score_recordings": "preflight.evaluation.metrics",
    "class_weights": "preflight.data.sample",
    "collate": "preflight.data.dataset",
    "pos_weight": "preflight.data.sample",
    "GateResult": "preflight.validators.gate",
    "run_gate": "preflight.validators.gate",
    "render_html": "preflight.reports.html",
    "render_junit": "preflight.reports.junit",
    "render_markdown": "preflight.reports.markdown",
    "collect_plot_data": "preflight.reports.plots",
    "RunConfig": "preflight.run_config",
    "load_run_config": "preflight.run_config",
    "RunResult": "preflight.reports.model",
    "train": "preflight.pipelines.train",
    "smoke": "preflight.pipelines.train",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'preflight' has no attribute {name!r}")


__all__ = [
    "AnnotationError",
    "AuditConfig",
    "AuditReport",
    "BalancedSampler",
    "BatchGuard",
    "CheckResult",
    "ConfigError",
    "EEGWindowDataset",
    "GateConfig",
    "GateResult",
    "GuardStopped",
    "GuardedLoader",
    "InputError",
    "Manifest",
    "ManifestError",
    "ManifestRecorder",
    "Montage",
    "NoUsableInputError",
    "PositiveBatchSampler",
    "PreflightConfig",
    "PreflightError",
    "Preprocessing",
    "Reason",
    "RecordingError",
    "RunConfig",
    "RunResult",
    "ScanOptions",
    "ScanResult",
    "Severity",
    "SourceFormat",
    "SplitConfig",
    "SplitMethod",
    "SplitSummary",
    "UsageError",
    "Verdict",
    "WindowCache",
    "WindowIndex",
    "WindowParams",
    "__version__",
    "audit",
    "build_model",
    "build_split",
    "class_weights",
    "collate",
    "collect_plot_data",
    "load_config",
    "load_run_config",
    "per_recording",
    "pos_weight",
    "render_html",
    "render_junit",
    "render_markdown",
    "run_gate",
    "scan",
    "score_recordings",
    "smoke",
    "split_stats",
    "totals",
    "train",
    "window_metrics",
]
