"""JUnit XML, Markdown and HTML renderings of one audit report, hostile strings included."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from preflight.manifest import queries
from preflight.reports.html import Section, render_html
from preflight.reports.junit import render_junit
from preflight.reports.markdown import escape_markdown, render_markdown
from preflight.reports.model import AuditReport, ManifestInfo, RejectedInput, SplitStats, Totals
from preflight.reports.plots import Figure, PlotData, collect_plot_data
from preflight.results import CheckResult, Severity, verdict
from tests.unit.manifests import Rec, make_manifest

HOSTILE = '<script>alert(1)</script> "quotes" & `ticks` a|b $x$'
EVIL_SPLIT = "<script>alert(1)</script>"
MATH_SPLIT = r"$\frac{$"  # broken mathtext: matplotlib would raise if it parsed it


def _split(pos_windows: int, windows: int = 1000) -> SplitStats:
    positive = 1 if pos_windows else 0
    return SplitStats(
        recordings=10, patients=4, positive_recordings=3 * positive,
        positive_patients=2 * positive, events=5 * positive, windows=windows,
        positive_windows=pos_windows, hours=2.5, positive_hours=0.1 * positive,
    )  # fmt: skip


def _check(
    name: str, split: str | None, severity: Severity, passed: bool, observed: object = 0
) -> CheckResult:
    return CheckResult(
        name=name, split=split, severity=severity, passed=passed, observed=observed,
        expected=">= 1", message=f"{split} split has {observed} positive windows (needs >= 1)",
        reason=None if passed else "too_few_positives",
    )  # fmt: skip


def _report(checks: list[CheckResult], rejected: list[RejectedInput] | None = None) -> AuditReport:
    splits = {"train": _split(80), "dev": _split(0), EVIL_SPLIT: _split(7)}
    return AuditReport(
        verdict=verdict(checks),
        manifest=ManifestInfo(path="/data/m & <b>.duckdb", fingerprint="0123456789abcdef" * 2),
        totals=Totals(
            recordings=30,
            rejected=len(rejected or []),
            patients=12,
            events=10,
            windows=3000,
            positive_windows=87,
            hours=7.5,
            positive_hours=0.2,
        ),
        splits=splits,
        checks=checks,
        rejected=rejected or [],
        provenance={
            "window_s": "10.0",
            "split_method": "stratified",
            "split_seed": "3",
            "note": HOSTILE,
        },
    )


@pytest.fixture
def failing() -> AuditReport:
    """A failing report: a failed error in dev, a failed warning, passes, hostile strings."""
    checks = [
        _check("min_positive_windows", "train", Severity.ERROR, True, 80),
        _check("min_positive_windows", "dev", Severity.ERROR, False, 0),
        _check("positive_fraction_low", "dev", Severity.WARNING, False, 0.001),
        _check("no_patient_leak", None, Severity.ERROR, True, []),
        CheckResult(
            name="hostile",
            split=EVIL_SPLIT,
            severity=Severity.ERROR,
            passed=False,
            observed={"path": HOSTILE},
            expected=["a", 1],
            message=f"bad \x00 file {HOSTILE}",
        ),
    ]
    rejected = [
        RejectedInput(path=f"edf/{HOSTILE}.edf", reason="not_edf", message=HOSTILE, line=3),
        RejectedInput(path="edf/b.edf", reason="edf_truncated", message="file ends early"),
    ]
    return _report(checks, rejected)


@pytest.fixture
def passing() -> AuditReport:
    """A passing report with one failed warning and no rejected input."""
    return _report([
        _check("min_positive_windows", "train", Severity.ERROR, True, 80),
        _check("positive_fraction_low", "dev", Severity.WARNING, False, 0.001),
    ])  # fmt: skip


# --- JUnit ---------------------------------------------------------------------------------


def test_junit_one_case_per_check_and_failures_only_for_errors(failing: AuditReport) -> None:
    root = ET.fromstring(render_junit(failing))
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "preflight.gate"
    cases = suite.findall("testcase")
    assert len(cases) == len(failing.checks) + 1
    assert suite.get("tests") == str(len(cases))
    assert suite.get("failures") == "2"
    assert suite.get("skipped") == "2"  # the warning and the rejected inputs
    assert len(suite.findall("testcase/failure")) == 2

    by_key = {(c.get("classname"), c.get("name")): c for c in cases}
    dev = by_key[("dev", "min_positive_windows")].find("failure")
    assert dev is not None
    assert dev.get("message") == "dev split has 0 positive windows (needs >= 1)"
    assert dev.get("type") == "too_few_positives"
    assert "observed: 0\nexpected: >= 1" in (dev.text or "")
    assert list(by_key[("train", "min_positive_windows")]) == []
    assert list(by_key[("corpus", "no_patient_leak")]) == []
    warning = by_key[("dev", "positive_fraction_low")].find("skipped")
    assert warning is not None
    assert (warning.get("message") or "").startswith("warning: dev split has 0.001")


def test_junit_escapes_and_survives_hostile_strings(failing: AuditReport) -> None:
    xml = render_junit(failing)
    assert "<script>" not in xml
    root = ET.fromstring(xml)  # NUL and friends were replaced, so the XML parses
    hostile = root.find(f"testsuite/testcase[@classname='{EVIL_SPLIT}']/failure")
    assert hostile is not None
    assert hostile.get("message") == f"bad \ufffd file {HOSTILE}"
    assert HOSTILE in (hostile.text or "")
    rejected = root.find("testsuite/testcase[@name='rejected_inputs']/skipped")
    assert rejected is not None
    assert f"edf/{HOSTILE}.edf:3  [not_edf]" in (rejected.text or "")
    assert "edf/b.edf  [edf_truncated]  file ends early" in (rejected.text or "")
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["verdict"] == "fail"
    assert props["provenance.note"] == HOSTILE


def test_junit_of_a_passing_report_has_no_failure(passing: AuditReport) -> None:
    root = ET.fromstring(render_junit(passing))
    assert root.get("failures") == "0"
    assert root.findall(".//failure") == []
    assert list(root.iter("testcase"))[-1].get("name") == "rejected_inputs"
    assert list(list(root.iter("testcase"))[-1]) == []


# --- Markdown ------------------------------------------------------------------------------

_CELL_SPLIT = re.compile(r"(?<!\\)\|")


def _table_rows(markdown: str) -> list[list[str]]:
    return [_CELL_SPLIT.split(line)[1:-1] for line in markdown.splitlines() if line.startswith("|")]


def test_markdown_sections_and_escaping(failing: AuditReport) -> None:
    md = render_markdown(failing)
    assert md.startswith("## preflight audit: FAIL\n\n**FAIL**: 2 failed error checks, 1 warning")
    for heading in ("### Splits", "### Failed checks", "### Warnings", "### Rejected inputs (2)",
                    "### Provenance"):  # fmt: skip
        assert heading in md
    assert "fingerprint 0123456789abcdef, split stratified (seed 3).\n" in md
    assert "<script" not in md
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in md
    assert r"\`ticks\` a\|b \$x\$" in md
    assert "| dev | 10 | 0 | 4 | 0 | 0 | 1,000 | 0 | 0.00 |" in md
    assert "| min\\_positive\\_windows | dev | 0 | &gt;= 1 | dev split has 0" in md
    for table in md.split("\n\n"):
        rows = _table_rows(table)
        assert len({len(r) for r in rows}) <= 1, table  # no escaped pipe broke a row


def test_markdown_of_a_passing_report_and_many_rejected(passing: AuditReport) -> None:
    md = render_markdown(passing)
    assert md.startswith("## preflight audit: PASS")
    assert "### Failed checks" not in md
    assert "### Warnings" in md
    many = [RejectedInput(path=f"f{i:03d}.edf", reason="not_edf", message="x") for i in range(60)]
    md = render_markdown(passing.model_copy(update={"rejected": many}))
    assert "f049.edf" in md
    assert "f050.edf" not in md
    assert "... and 10 more (all of them: preflight report " in md


def test_escape_markdown() -> None:
    assert escape_markdown("a_b*c [x](y) <i>&\n|") == r"a\_b\*c \[x\](y) &lt;i&gt;&amp; \|"


# --- HTML ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def plot_data(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlotData]:
    """Plot data from a small manifest with two splits, one of them without seizures."""
    recs = [
        Rec("train/a", "pa", 900.0, ((100.0, 160.0), (400.0, 420.0)), "train"),
        Rec("train/b", "pb", 600.0, ((10.0, 95.0),), "train"),
        Rec("train/c", "pc", 600.0, (), "train"),
        Rec(f"{EVIL_SPLIT}/d", "pd", 300.0, ((0.0, 12.0),), EVIL_SPLIT),
        Rec("dev/e", "pe", 600.0, (), "dev"),
        Rec("m/f", "pf", 300.0, ((0.0, 12.0),), MATH_SPLIT),
    ]
    with make_manifest(tmp_path_factory.mktemp("plots") / "m.duckdb", recs) as m:
        yield collect_plot_data(m)


def test_collect_plot_data(plot_data: PlotData) -> None:
    assert list(plot_data.windows) == ["train", "dev", MATH_SPLIT, EVIL_SPLIT]
    assert plot_data.windows["train"] == (210 - 17, 17)
    assert plot_data.windows["dev"] == (60, 0)
    assert plot_data.recordings == {"train": 3, "dev": 1, EVIL_SPLIT: 1, MATH_SPLIT: 1}
    assert plot_data.positives_per_recording["train"] == [9, 8]
    assert plot_data.positives_per_recording["dev"] == []
    assert sorted(plot_data.seizure_durations["train"]) == [20.0, 60.0, 85.0]
    assert plot_data.seizure_durations[EVIL_SPLIT] == [12.0]


def test_plot_data_matches_split_stats(tmp_path: Path) -> None:
    with make_manifest(tmp_path / "m.duckdb", [Rec("r", "p", 100.0, ((5.0, 6.0),))]) as m:
        data = collect_plot_data(m)
        stats = queries.split_stats(m)
    assert data.windows == {"all": (stats["all"]["windows"] - 1, 1)}


def _images(html: str) -> list[bytes]:
    uris = re.findall(r'src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)"', html)
    return [base64.b64decode(u) for u in uris]


def test_html_is_self_contained_and_escaped(failing: AuditReport, plot_data: PlotData) -> None:
    html = render_html(failing, plot_data)
    assert html.startswith("<!DOCTYPE html>")
    assert "http://" not in html
    assert "https://" not in html
    for needle in ("<script", "<link", "@import", "url(", "<iframe"):
        assert needle not in html.lower()
    assert re.findall(r'src="(?!data:image/)', html) == []
    assert "default-src 'none'" in html  # the CSP forbids scripts even if escaping failed
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&#34;quotes&#34; &amp; `ticks`" in html
    assert "/data/m &amp; &lt;b&gt;.duckdb" in html
    images = _images(html)
    assert len(images) == 3
    for svg in images:
        assert svg.lstrip().startswith(b"<?xml")
        assert b"<svg" in svg
        assert b"<script" not in svg


def test_html_order_banner_and_determinism(failing: AuditReport, plot_data: PlotData) -> None:
    html = render_html(failing, plot_data)
    assert '<section class="banner fail"' in html
    assert 'split <span class="mono">stratified (seed 3)</span>' in html
    assert html.index('min_positive_windows</td><td class="mono">dev') < html.index(
        'min_positive_windows</td><td class="mono">train'
    )  # failed checks first
    assert "Rejected inputs (2)" in html
    assert render_html(failing, plot_data) == html


def test_html_without_plot_data_and_with_sections(passing: AuditReport) -> None:
    figure = Figure(title="loss", data_uri="data:image/png;base64,AAAA", caption=HOSTILE)
    section = Section(
        title=f"Training {HOSTILE}", paragraphs=(HOSTILE,), columns=("epoch", "loss"),
        rows=(("1", "0.5"), ("2", HOSTILE)), figures=(figure,),
    )  # fmt: skip
    html = render_html(passing, None, sections=[section])
    assert '<section class="banner pass"' in html
    assert "No plots: the report was rendered without the manifest's plot data." in html
    assert 'id="section-1">Training &lt;script&gt;' in html
    assert "<td>2</td><td>&lt;script&gt;" in html
    assert 'src="data:image/png;base64,AAAA"' in html
    assert "<script" not in html


def test_figure_refuses_external_images() -> None:
    with pytest.raises(ValueError, match="data:image"):
        Figure(title="x", data_uri="https://example.org/x.png")


def test_plots_without_seizures_or_recordings(tmp_path: Path, passing: AuditReport) -> None:
    with make_manifest(tmp_path / "m.duckdb", [Rec("r", "p", 100.0)]) as m:
        data = collect_plot_data(m)
    assert data.seizure_durations == {"all": []}
    for empty in (data, PlotData()):
        assert len(_images(render_html(passing, empty))) == 3


@pytest.mark.slow
def test_html_renders_in_headless_chromium(
    failing: AuditReport, plot_data: PlotData, tmp_path: Path
) -> None:
    """A real browser draws the page (skipped where Chromium is not installed)."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed")
    page = tmp_path / "report.html"
    page.write_text(render_html(failing, plot_data), encoding="utf-8")
    shot = tmp_path / "report.png"
    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}",
        "--window-size=1200,1600",
    ]  # fmt: skip
    subprocess.run([browser, *flags, page.as_uri()], capture_output=True, timeout=120, check=True)
    from PIL import Image

    with Image.open(shot) as image:
        assert image.size == (1200, 1600)
        colours = image.convert("RGB").getcolors(maxcolors=1_000_000) or []
    assert any(rgb == (0xB4, 0x23, 0x18) for _, rgb in colours)  # the FAIL banner's red


def test_table_plots_speak_of_rows_and_files(plot_data: PlotData) -> None:
    """A Parquet source's plots say rows and files, and have no seizure durations."""
    from dataclasses import replace

    from preflight.reports.plots import audit_figures

    eeg = audit_figures(plot_data)
    table = audit_figures(replace(plot_data, table=True))
    assert [f.title for f in eeg][-1] == "Seizure durations"
    assert [f.title for f in table] == ["Class balance per split", "Positive rows per file"]
    assert "positive rows" in table[0].caption
    assert "windows" not in " ".join(f.caption for f in table)
