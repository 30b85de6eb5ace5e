"""preflight: stop a training run before it spends accelerator time on data that cannot teach it.

The Python API mirrors the command line::

    import preflight

    report = preflight.audit("/data/tusz/edf")           # scan + checks -> AuditReport
    print(report.verdict, report.splits["dev"].positive_windows)
    with preflight.Manifest.open(report.manifest.path, read_only=True) as m:
        stats = preflight.split_stats(m)                  # per-split statistics, from SQL
"""

from typing import TYPE_CHECKING, Any

from preflight._version import __version__
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

if TYPE_CHECKING:  # the names below load on first use (``__getattr__``); typed for checkers
    from preflight.config import (
        AuditConfig,
        GateConfig,
        PreflightConfig,
        SplitConfig,
        load_config,
    )
    from preflight.data.cache import Preprocessing, WindowCache
    from preflight.data.dataset import EEGWindowDataset, collate
    from preflight.data.montage import Montage
    from preflight.data.sample import (
        BalancedSampler,
        PositiveBatchSampler,
        class_weights,
        pos_weight,
    )
    from preflight.data.window_index import WindowIndex
    from preflight.evaluation.metrics import score_recordings, window_metrics
    from preflight.manifest.queries import per_recording, split_stats, totals
    from preflight.manifest.store import Manifest
    from preflight.manifest.windows import WindowParams
    from preflight.models.registry import build_model
    from preflight.pipelines.audit import audit
    from preflight.pipelines.train import smoke, train
    from preflight.reports.html import render_html
    from preflight.reports.junit import render_junit
    from preflight.reports.markdown import render_markdown
    from preflight.reports.model import AuditReport, RunResult
    from preflight.reports.plots import collect_plot_data
    from preflight.results import CheckResult, Severity, Verdict
    from preflight.run_config import RunConfig, load_run_config
    from preflight.scanning.discover import SourceFormat
    from preflight.scanning.scan import ScanOptions, ScanResult, scan
    from preflight.split import SplitMethod, SplitSummary, build_split
    from preflight.validators.batch_guard import BatchGuard, GuardedLoader, GuardStopped
    from preflight.validators.gate import GateResult, run_gate
    from preflight.validators.quarantine import ManifestRecorder

# Everything but the version and the exceptions loads on first use: ``import preflight`` and
# ``preflight --version`` import no numpy, DuckDB, pyarrow, pydantic, pandas, torch or Great
# Expectations; each command imports what it uses.
_LAZY = {
    "AuditConfig": "preflight.config",
    "GateConfig": "preflight.config",
    "PreflightConfig": "preflight.config",
    "SplitConfig": "preflight.config",
    "load_config": "preflight.config",
    "WindowIndex": "preflight.data.window_index",
    "per_recording": "preflight.manifest.queries",
    "split_stats": "preflight.manifest.queries",
    "totals": "preflight.manifest.queries",
    "Manifest": "preflight.manifest.store",
    "WindowParams": "preflight.manifest.windows",
    "audit": "preflight.pipelines.audit",
    "AuditReport": "preflight.reports.model",
    "CheckResult": "preflight.results",
    "Severity": "preflight.results",
    "Verdict": "preflight.results",
    "SourceFormat": "preflight.scanning.discover",
    "ScanOptions": "preflight.scanning.scan",
    "ScanResult": "preflight.scanning.scan",
    "scan": "preflight.scanning.scan",
    "SplitMethod": "preflight.split",
    "SplitSummary": "preflight.split",
    "build_split": "preflight.split",
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

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # later look-ups skip this function
        return value
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
