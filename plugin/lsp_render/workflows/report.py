"""``render-all --report FILE.xml`` (JUnit) and ``--format json``: the run for machines.

JUnit: one ``<testsuite>`` per environment and one ``<testcase>`` per pair
(``classname`` the environment, ``name`` the application), a ``<failure>`` with
the pair's one-line message, and a ``<skipped>`` case per Application that
``--from-applications`` left out. GitHub and GitLab show such failures inline.
"""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lsp_render.workflows.render_all import RenderAllReport

__all__ = ["junit_xml", "summary_json", "write_report"]

# Characters XML 1.0 cannot hold, even escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_NO_ENV = "(none)"


def _text(value: str) -> str:
    return _NOT_XML.sub("?", value)


def junit_xml(report: RenderAllReport) -> str:
    """Return the JUnit XML of a run (deterministic: sorted, no timestamps).

    Parameters
    ----------
    report
        The run.

    Returns
    -------
    str
        The document, with an XML declaration.
    """
    suites: dict[str, list[ET.Element]] = {}
    counts: dict[str, list[int]] = {}
    times: dict[str, float] = {}
    for result in report.results:
        env = result.pair.env or _NO_ENV
        case = ET.Element(
            "testcase",
            classname=f"lsp-render.{env}",
            name=result.pair.rel,
            time=f"{result.seconds:.3f}",
        )
        if not result.ok:
            message = _text(result.message or f"exit {result.exit_code}")
            failure = ET.SubElement(
                case, "failure", message=message, type=f"exit {result.exit_code}"
            )
            failure.text = f"{result.pair.label}: {message}"
        suites.setdefault(env, []).append(case)
        tally = counts.setdefault(env, [0, 0, 0])
        tally[0] += 1
        tally[1] += 0 if result.ok else 1
        times[env] = times.get(env, 0.0) + result.seconds
    for item in report.skipped:
        env = item.env or _NO_ENV
        case = ET.Element("testcase", classname=f"lsp-render.{env}", name=item.name, time="0.000")
        ET.SubElement(case, "skipped", message=_text(item.reason))
        suites.setdefault(env, []).append(case)
        tally = counts.setdefault(env, [0, 0, 0])
        tally[0] += 1
        tally[2] += 1
    root = ET.Element(
        "testsuites",
        name="lsp-render render-all",
        tests=str(sum(c[0] for c in counts.values())),
        failures=str(sum(c[1] for c in counts.values())),
        errors="0",
        skipped=str(sum(c[2] for c in counts.values())),
        time=f"{report.wall_seconds:.3f}",
    )
    for env in sorted(suites):
        tests, failures, skipped = counts[env]
        suite = ET.SubElement(
            root,
            "testsuite",
            name=env,
            tests=str(tests),
            failures=str(failures),
            errors="0",
            skipped=str(skipped),
            time=f"{times.get(env, 0.0):.3f}",
        )
        suite.extend(sorted(suites[env], key=lambda case: case.get("name", "")))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def summary_json(report: RenderAllReport) -> str:
    """Return the run's summary as JSON (``--format json``), one object, keys sorted."""
    pairs: list[dict[str, Any]] = []
    for result in report.results:
        item: dict[str, Any] = {
            "app": result.pair.rel,
            "env": result.pair.env,
            "status": "ok" if result.ok else "failed",
            "exitCode": result.exit_code,
            "objects": result.objects,
            "seconds": round(result.seconds, 3),
        }
        if result.message is not None:
            item["message"] = result.message
        app = result.pair.application
        if app is not None:  # --from-applications: where its sources are
            item["sources"] = [s.path for s in app.sources if not s.ref_only and s.path]
        if result.checked or result.unknown:
            item["validated"] = result.checked
            item["withoutSchema"] = dict(result.unknown)
        pairs.append(item)
    data = {
        "exitCode": report.exit_code,
        "jobs": report.jobs,
        "wallSeconds": round(report.wall_seconds, 3),
        "total": len(report.results),
        "rendered": sum(1 for r in report.results if r.ok),
        "failed": len(report.failed),
        "objects": sum(r.objects for r in report.results),
        "pairs": pairs,
        "skipped": [
            {"app": item.name, "env": item.env, "reason": item.reason} for item in report.skipped
        ],
        "notes": list(report.notes),
    }
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def write_report(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically; a symlink at ``path`` is replaced, not followed."""
    path = Path(os.path.abspath(path))  # noqa: PTH100 - the link itself, not its target
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
