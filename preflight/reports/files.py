"""Writing the audit report's renderings to the files a user asked for."""

from __future__ import annotations

import os
from pathlib import Path

from preflight.errors import UsageError
from preflight.manifest.store import Manifest
from preflight.reports.json_report import write_text_atomic
from preflight.reports.model import AuditReport

__all__ = ["refuse_writing_over", "write_reports"]


def write_reports(
    report: AuditReport,
    json_out: Path | None,
    junit: Path | None,
    markdown: Path | None,
    html: Path | None,
) -> None:
    """Render the one report into each file asked for (imports only what is needed)."""
    if json_out is not None:
        write_text_atomic(json_out, report.to_json())
    if junit is not None:
        from preflight.reports.junit import render_junit

        write_text_atomic(junit, render_junit(report))
    if markdown is not None:
        from preflight.reports.markdown import render_markdown

        write_text_atomic(markdown, render_markdown(report))
    if html is not None:
        from preflight.reports.html import render_html
        from preflight.reports.plots import collect_plot_data

        with Manifest.open(report.manifest.path, read_only=True) as m:
            extras = collect_plot_data(m)
        write_text_atomic(html, render_html(report, extras))


def refuse_writing_over(manifest: Path, *outputs: Path | None) -> None:
    """A report path naming the manifest (or its write-ahead log) would destroy the manifest
    and its audit and run history: refused before anything runs.

    Raises:
        UsageError: naming the option's path.
    """
    guarded = {_same_file_key(manifest), _same_file_key(Path(f"{manifest}.wal"))}
    for out in outputs:
        if out is not None and _same_file_key(out) in guarded:
            raise UsageError(
                "a report cannot be written over the manifest (it holds the audit and run "
                "history); choose another file name",
                path=out,
            )


def _same_file_key(path: Path) -> object:
    """What identifies the file ``path`` names: (device, inode) when it exists, else the
    absolute path with links resolved."""
    try:
        st = os.stat(path)
    except OSError:
        return os.path.realpath(path)
    return (st.st_dev, st.st_ino)
