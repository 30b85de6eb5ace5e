"""Catalogue cases: the corpus layout (pairing, permissions, links, names)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from tests.reliability.bad_input import (
    ACCEPTED,
    BCKG_CSV,
    CSV_REJECTS_EDF,
    LAYOUT,
    BadInput,
    Outcome,
    in_manifest,
    write,
)
from tests.reliability.corpus import (
    P,
    csv_bi,
    edf_bytes,
    edfplus_bytes,
)

NEW_DIR = "edf/train/aaaaaaae/s001_2015/01_tcp_ar"
HOSTILE_DIR = "edfplus/hostile"
# Each name is one path component except the first, whose `/` makes it two: a folder
# `<script>alert(1)<` holding `script>.edf`, so the root-relative path reads `<script>...</script>`.
HOSTILE_NAMES = (
    "<script>alert(1)</script>.edf",
    'it\'s a "quote" & spaces; DROP TABLE files;--.edf',
    "Ünïcødé 数据 ½ 🧠.edf",
    "[bold]rich[/bold] [/] $x^2$ {{ jinja }} %s {0}.edf",
    "<img src=x onerror=alert(1)>.edf",
)


def _hostile(content: Callable[[str], bytes]) -> Callable[[Path], None]:
    def make(root: Path) -> None:
        for i, name in enumerate(HOSTILE_NAMES):
            target = root / HOSTILE_DIR / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content(f"hostile{i}"))

    return make


def _hostile_audited(outcome: Outcome) -> None:
    paths = {r[0] for r in in_manifest(outcome, "SELECT path FROM recordings")}
    assert {f"{HOSTILE_DIR}/{name}" for name in HOSTILE_NAMES} <= paths


def _hostile_escaped(outcome: Outcome) -> None:
    """Every report lists the rejected hostile names, and none lets them act as markup."""
    import io
    import json
    import xml.etree.ElementTree as ET

    from rich.console import Console

    from preflight.manifest.store import Manifest
    from preflight.pipelines.audit import last_report
    from preflight.reports.html import render_html
    from preflight.reports.junit import render_junit
    from preflight.reports.markdown import render_markdown
    from preflight.reports.plots import collect_plot_data
    from preflight.reports.terminal import render_audit

    with Manifest.open(outcome.manifest, read_only=True) as m:
        report = last_report(m)
        extras = collect_plot_data(m)
    names = {f"{HOSTILE_DIR}/{name}" for name in HOSTILE_NAMES}
    assert names <= {r["path"] for r in json.loads(report.to_json())["rejected"]}
    page = render_html(report, extras)
    lowered = page.lower()
    assert "<script" not in lowered
    assert "<img src=x" not in lowered
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    markdown = render_markdown(report)
    assert "<script" not in markdown
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in markdown
    cases = ET.fromstring(render_junit(report).encode())
    assert any("<script>alert(1)</script>" in (el.text or "") for el in cases.iter())
    console = Console(file=io.StringIO(), width=2000, color_system=None)
    render_audit(report, console)  # rich markup in names is printed, not interpreted
    shown = console.file.getvalue()
    assert all(name in shown for name in names), shown


def _fifo(rel: str) -> Callable[[Path], None]:
    return lambda root: os.mkfifo(root / rel)


def _symlink(rel: str, to: str) -> Callable[[Path], None]:
    def make(root: Path) -> None:
        link = root / rel
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(to)

    return make


def _file_loop(root: Path) -> None:
    (root / "edfplus/a.edf").symlink_to("b.edf")
    (root / "edfplus/b.edf").symlink_to("a.edf")


def _locked_file(root: Path) -> None:
    os.chmod(root / BCKG_CSV, 0)


def _locked_folder(root: Path) -> None:
    folder = root / "edfplus/locked"
    folder.mkdir()
    (folder / "rec02.edf").write_bytes(edfplus_bytes("rec02"))
    os.chmod(folder, 0)


def _not_utf8_name(root: Path) -> None:
    folder = os.fsencode(root / "edfplus")
    with open(folder + b"/caf\xe9.edf", "wb") as fh:
        fh.write(edfplus_bytes("cafe"))


LAYOUT_CASES = [
    BadInput(
        id="annotation_without_edf",
        kind=LAYOUT,
        description="`.csv_bi` whose EDF is absent",
        make=write(f"{NEW_DIR}/aaaaaaae_s001_t000.csv_bi", csv_bi("aaaaaaae_s001_t000", 60, [])),
        reason="missing_recording",
        line=None,
        path=f"{NEW_DIR}/aaaaaaae_s001_t000.csv_bi",
        needle="annotates aaaaaaae_s001_t000.edf, which is not present",
    ),
    BadInput(
        id="edf_without_annotation",
        kind=LAYOUT,
        description="EDF with no annotation file",
        make=write(f"{NEW_DIR}/aaaaaaae_s001_t000.edf", edf_bytes("aaaaaaae_s001_t000", 60)),
        reason="missing_annotations",
        line=None,
        path=f"{NEW_DIR}/aaaaaaae_s001_t000.edf",
        needle="no annotation file found for aaaaaaae_s001_t000",
    ),
    BadInput(
        id="unreadable_file",
        kind=LAYOUT,
        description="`.csv_bi` with mode 000 (audited as an unprivileged user)",
        make=_locked_file,
        reason="unreadable",
        line=None,
        path=BCKG_CSV,
        also=CSV_REJECTS_EDF,
        delta=-1,
        needle="Permission denied",
        unprivileged=True,
    ),
    BadInput(
        id="unreadable_folder",
        kind=LAYOUT,
        description="folder with mode 000 (audited as an unprivileged user)",
        make=_locked_folder,
        reason="unreadable",
        line=None,
        path="edfplus/locked",
        needle="cannot list folder",
        unprivileged=True,
    ),
    BadInput(
        id="fifo_as_edf",
        kind=LAYOUT,
        description="a named pipe called `.edf` (would block a reader)",
        make=_fifo("edfplus/pipe.edf"),
        reason="unreadable",
        line=None,
        path="edfplus/pipe.edf",
        needle="not a regular file",
    ),
    BadInput(
        id="fifo_as_annotation",
        kind=LAYOUT,
        description="a named pipe called `.csv_bi` (would block a reader)",
        make=_fifo(f"{P.tusz_dir}/pipe.csv_bi"),
        reason="unreadable",
        line=None,
        path=f"{P.tusz_dir}/pipe.csv_bi",
        needle="not a regular file",
    ),
    BadInput(
        id="symlink_loop_folder",
        kind=LAYOUT,
        description="a folder symlink pointing back at the root",
        make=_symlink("edfplus/loop", ".."),
        reason="unreadable",
        line=None,
        path="edfplus/loop",
        needle="symlink loop",
    ),
    BadInput(
        id="symlink_loop_file",
        kind=LAYOUT,
        description="two `.edf` symlinks pointing at each other",
        make=_file_loop,
        reason="unreadable",
        line=None,
        path="edfplus/a.edf",
        also=(("edfplus/b.edf", "unreadable"),),
        needle="Too many levels of symbolic links",
    ),
    BadInput(
        id="dangling_symlink",
        kind=LAYOUT,
        description="an `.edf` symlink to a file that does not exist",
        make=_symlink("edfplus/gone.edf", "missing.edf"),
        reason="unreadable",
        line=None,
        path="edfplus/gone.edf",
        needle="No such file or directory",
    ),
    BadInput(
        id="dangling_folder_link",
        kind=LAYOUT,
        description="a split folder `edf/eval` that is a symlink to nowhere (a lost split)",
        make=_symlink("edf/eval", "/nonexistent/eval"),
        reason="unreadable",
        line=None,
        path="edf/eval",
        needle="dangling symlink",
    ),
    BadInput(
        id="dangling_link_any_name",
        kind=LAYOUT,
        description="a symlink named `notes` (no reader's name) to nowhere",
        make=_symlink("edfplus/notes", "missing-notes"),
        reason="unreadable",
        line=None,
        path="edfplus/notes",
        needle="dangling symlink",
    ),
    BadInput(
        id="folder_named_edf",
        kind=LAYOUT,
        description="an empty folder called `x.edf` (not an input: ignored)",
        make=lambda root: (root / "edfplus/x.edf").mkdir(),
        reason=ACCEPTED,
        line=None,
        path="edfplus/x.edf",
    ),
    BadInput(
        id="hostile_names_audited",
        kind=LAYOUT,
        description="good recordings named with quotes, SQL, unicode, HTML, rich markup (allowed)",
        make=_hostile(lambda name: edfplus_bytes(name)),
        reason=ACCEPTED,
        line=None,
        path=f"{HOSTILE_DIR}/{HOSTILE_NAMES[0]}",
        delta=len(HOSTILE_NAMES),
        check=_hostile_audited,
    ),
    BadInput(
        id="hostile_names_rejected",
        kind=LAYOUT,
        description="broken files with those names: every report lists them escaped",
        make=_hostile(lambda name: b"<script>alert(1)</script>"),
        reason="not_edf",
        line=None,
        path=f"{HOSTILE_DIR}/{HOSTILE_NAMES[0]}",
        also=tuple((f"{HOSTILE_DIR}/{name}", "not_edf") for name in HOSTILE_NAMES[1:]),
        check=_hostile_escaped,
    ),
    BadInput(
        id="name_not_utf8",
        kind=LAYOUT,
        description="a file name that is not valid UTF-8 (`caf\\xe9.edf`)",
        make=_not_utf8_name,
        reason="undecodable",
        line=None,
        path="edfplus/caf\\xe9.edf",
        needle="name is not valid UTF-8",
    ),
]
