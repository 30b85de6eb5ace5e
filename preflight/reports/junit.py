"""The audit report as JUnit XML, so CI shows a failing check as a failing test.

One ``<testsuite name="preflight.gate">`` holds one ``<testcase>`` per check (``classname`` is
the split, or ``corpus`` for whole-corpus checks; ``name`` is the check name) and one
``rejected_inputs`` test case listing the rejected inputs. The mapping:

* passed check: a plain test case;
* failed **error** check: ``<failure message="{check.message}" type="{reason}">`` with the
  severity, split, observed value and expected threshold in its body;
* failed **warning** check: ``<skipped message="warning: {check.message}">`` with the same body.
  Skipped is the one non-failing status that Jenkins, GitLab, Azure DevOps and the GitHub JUnit
  report actions all count and list with its message: the warning is seen and the job still
  passes, just as the verdict does. (A passing case with ``<system-out>`` would hide it.)
* rejected inputs: passing when there are none, otherwise skipped with every input listed;
  whether rejections fail the gate is decided by their own check (``no_rejected_inputs``).

So the number of ``<failure>`` elements is the number of failed error checks, and a CI job that
fails on test failures fails exactly when the verdict does.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from preflight.reports.formatting import (
    CORPUS,
    counts,
    follows,
    format_value,
    located,
    note_text,
    place,
)
from preflight.reports.model import AuditReport, RejectedInput
from preflight.results import CheckResult, Severity

SUITE_NAME = "preflight.gate"
REJECTED_CASE = "rejected_inputs"

# Characters XML 1.0 cannot hold at all, even escaped (NUL, most C0 controls, lone surrogates).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def render_junit(report: AuditReport) -> str:
    """Render ``report`` as a JUnit XML document (a string with its XML declaration)."""
    n = counts(report)
    rejected_skipped = 1 if report.rejected else 0
    tally = {
        "tests": str(len(report.checks) + 1),
        "failures": str(n["FAIL"]),
        "errors": "0",
        "skipped": str(n["WARN"] + rejected_skipped),
        "time": _seconds(report),
    }
    root = ET.Element("testsuites", {"name": "preflight", **tally})
    suite = ET.SubElement(root, "testsuite", {"name": SUITE_NAME, **tally})
    _properties(suite, report)
    for check in report.checks:
        _check_case(suite, check)
    _rejected_case(suite, report.rejected)
    if report.notes:  # corrections applied while reading: shown, never a failure
        lines = [f"{located(n)}  [note]  {note_text(n)}" for n in report.notes]
        ET.SubElement(suite, "system-out").text = _clean("\n".join(lines) + "\n")
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _clean(text: str) -> str:
    """Replace characters XML cannot carry; ElementTree escapes ``<``, ``&`` and quotes."""
    return _NOT_XML.sub("\ufffd", text)


def _seconds(report: AuditReport) -> str:
    return f"{report.scan.seconds:.3f}" if report.scan is not None else "0"


def _properties(suite: ET.Element, report: AuditReport) -> None:
    props = ET.SubElement(suite, "properties")
    values = {
        "verdict": report.verdict.value,
        "manifest": report.manifest.path,
        "fingerprint": report.manifest.fingerprint,
        **{f"provenance.{k}": format_value(v) for k, v in report.provenance.items()},
    }
    for name, value in values.items():
        ET.SubElement(props, "property", {"name": _clean(name), "value": _clean(value)})


def _check_case(suite: ET.Element, check: CheckResult) -> None:
    case = ET.SubElement(
        suite, "testcase", {"classname": _clean(place(check)), "name": _clean(check.name),
                            "time": "0"},
    )  # fmt: skip
    if check.passed:
        return
    body = _clean(
        f"severity: {check.severity.value}\n"
        f"split: {place(check)}\n"
        f"observed: {format_value(check.observed)}\n"
        f"expected: {format_value(check.expected)}\n"
        f"message: {check.message}\n" + (f"reason: {check.reason}\n" if check.reason else "")
    )
    if check.severity is Severity.ERROR:
        attrs = {"message": _clean(check.message), "type": _clean(check.reason or check.name)}
        ET.SubElement(case, "failure", attrs).text = body
    else:
        ET.SubElement(case, "skipped", {"message": _clean(f"warning: {check.message}")}).text = body


def _rejected_case(suite: ET.Element, rejected: list[RejectedInput]) -> None:
    case = ET.SubElement(
        suite, "testcase", {"classname": CORPUS, "name": REJECTED_CASE, "time": "0"}
    )
    if not rejected:
        return
    message = (
        f"{len(rejected)} input(s) rejected; whether that fails the gate is decided by "
        "the rejected-inputs check"
    )
    lines = [
        f"{located(r)}  [{r.reason}]  {r.message}" + (f"  ({follows(r)})" if r.cause_path else "")
        for r in rejected
    ]
    ET.SubElement(case, "skipped", {"message": message}).text = _clean("\n".join(lines) + "\n")
