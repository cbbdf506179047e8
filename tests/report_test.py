"""``render-all --report FILE.xml`` (JUnit) and ``--format json``."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.cli_helpers import base_env, run
from tests.workflow_fixtures import ALL_PAIRS, SECRETS_FILE, repo

__all__ = ["repo"]  # fixture

APPS_REPO = Path(__file__).parent / "data" / "applications" / "repo"


def _break_api(repo: Path) -> None:
    template = repo / "applications" / "api" / "templates" / "configmap.yaml"
    template.write_text(template.read_text() + '\n{{ fail "api is broken" }}\n')


def test_junit_report_one_case_per_pair(repo: Path, tmp_path: Path) -> None:
    _break_api(repo)
    report = tmp_path / "report.xml"
    args = ["render-all", str(repo), "--secrets-file", str(SECRETS_FILE), "--report", str(report)]
    result = run([*args, "-j", "1"], env=base_env())
    assert result.code == 1
    root = ET.fromstring(report.read_text())  # noqa: S314 - our own file
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("skipped")) == ("8", "2", "0")
    assert [suite.get("name") for suite in root] == ["(none)", "dev", "prod"]
    cases = {
        f"{case.get('classname')}/{case.get('name')}": case for suite in root for case in suite
    }
    expected = {
        f"lsp-render.{p}" if p.count("/") == 2 else f"lsp-render.(none)/{p}" for p in ALL_PAIRS
    }
    assert set(cases) == expected
    failure = cases["lsp-render.dev/applications/api"].find("failure")
    assert failure is not None
    assert "api is broken" in (failure.get("message") or "")
    assert failure.get("type") == "exit 1"
    assert (failure.text or "").startswith("dev/applications/api: ")
    assert cases["lsp-render.dev/applications/web"].find("failure") is None


def test_json_summary(repo: Path, tmp_path: Path) -> None:
    _break_api(repo)
    args = ["render-all", str(repo), "--secrets-file", str(SECRETS_FILE), "--format", "json"]
    result = run([*args, "-j", "1"], env=base_env())
    assert result.code == 1
    data = json.loads(result.stdout)  # stdout is the JSON document alone
    assert (data["total"], data["failed"], data["rendered"], data["exitCode"]) == (8, 2, 6, 1)
    failed = [p for p in data["pairs"] if p["status"] == "failed"]
    assert [(p["env"], p["app"]) for p in failed] == [
        ("dev", "applications/api"),
        ("prod", "applications/api"),
    ]
    assert "api is broken" in failed[0]["message"]
    for secret in ("dev-pw-Zq8x", "prod-pw-Kd3m"):
        assert secret not in result.stdout


def test_report_lists_skipped_applications(tmp_path: Path) -> None:
    target = tmp_path / "aoa"
    shutil.copytree(APPS_REPO, target)
    (target / ".git").mkdir()  # the repository root, above ROOT (apps/)
    report = tmp_path / "r.xml"
    args = ["render-all", str(target / "apps"), "--from-applications", str(target / "environments")]
    args += ["--no-secrets", "--report", str(report), "--format", "json", "--env", "dev"]
    args += ["--repo-url", "https://git.example.org/deploy"]
    result = run(args)
    assert result.code == 0, result.stderr
    root = ET.fromstring(report.read_text())  # noqa: S314 - our own file
    assert (root.get("tests"), root.get("failures"), root.get("skipped")) == ("7", "0", "3")
    skipped = [
        case.get("name") for case in root.iter("testcase") if case.find("skipped") is not None
    ]
    assert skipped == ["foreign", "outside", "remote"]
    data = json.loads(result.stdout)
    assert [item["app"] for item in data["skipped"]] == ["foreign", "outside", "remote"]
    assert data["notes"] == []  # --repo-url named this repository


def test_junit_survives_control_characters_in_messages(tmp_path: Path) -> None:
    from lsp_render.workflows.discovery import Pair
    from lsp_render.workflows.render_all import RenderAllReport
    from lsp_render.workflows.report import junit_xml
    from lsp_render.workflows.worker import PairResult

    pair = Pair("applications/x", "dev", tmp_path)
    bad = PairResult(pair, 1, 0, 0.5, 'engine said \x1b[31m"<no>" & \x00 done')
    text = junit_xml(RenderAllReport((bad,), 1.0, 1))
    failure = ET.fromstring(text).find("testsuite/testcase/failure")  # noqa: S314 - our own text
    assert failure is not None
    assert failure.get("message") == 'engine said ?[31m"<no>" & ? done'
