"""preflight: stop a training run before it spends accelerator time on data that cannot teach it.

The Python API mirrors the command line::

    import preflight

    report = preflight.audit("/data/tusz/edf")           # scan + checks -> AuditReport
    print(report.verdict, report.splits["dev"].positive_windows)
    with preflight.Manifest.open(report.manifest.path, read_only=True) as m:
        stats = preflight.split_stats(m)                  # per-split statistics, from SQL
"""

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
from preflight.pipelines.discover import SourceFormat
from preflight.pipelines.scan import ScanOptions, ScanResult, scan
from preflight.reports.model import AuditReport
from preflight.validators.results import CheckResult, Severity, Verdict

__version__ = "0.1.0"

__all__ = [
    "AnnotationError",
    "AuditReport",
    "CheckResult",
    "ConfigError",
    "InputError",
    "Manifest",
    "ManifestError",
    "NoUsableInputError",
    "PreflightError",
    "Reason",
    "RecordingError",
    "ScanOptions",
    "ScanResult",
    "Severity",
    "SourceFormat",
    "UsageError",
    "Verdict",
    "WindowParams",
    "__version__",
    "audit",
    "per_recording",
    "scan",
    "split_stats",
    "totals",
]
