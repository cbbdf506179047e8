"""render-all: every pair, failures reported while the others render, output identical to render."""

from __future__ import annotations

import io
import random
from pathlib import Path

import pytest

from lsp_render.core.context import SecretOptions
from lsp_render.core.errors import InputError
from lsp_render.workflows.discovery import Pair, discover_pairs
from lsp_render.workflows.progress import LineProgress, format_summary
from lsp_render.workflows.render_all import plan_tasks, render_all
from lsp_render.workflows.worker import PairResult
from tests.cli_helpers import base_env, run
from tests.workflow_fixtures import ALL_PAIRS, SECRET_VALUES, SECRETS_FILE, repo

__all__ = ["repo"]

SECRETS = SecretOptions(secrets_file=SECRETS_FILE)


def _tree(directory: Path) -> dict[str, bytes]:
    return {
        path.relative_to(directory).as_posix(): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def test_discovers_every_app_and_environment(repo: Path) -> None:
    pairs = discover_pairs(repo, {})
    assert tuple(pair.label for pair in pairs) == ALL_PAIRS
    assert [pair.label for pair in discover_pairs(repo, {}, ["prod"])] == [
        "prod/applications/api",
        "prod/applications/web",
        "prod/applications/worker-a",
    ]
    with pytest.raises(InputError, match="environment staging"):
        discover_pairs(repo, {}, ["staging"])


def test_without_repo_config_every_renderable_directory_is_an_app(repo: Path) -> None:
    (repo / "lsp-render-repo.yaml").unlink()
    (repo / ".git").mkdir()  # the repository root, so file:// dependencies stay inside
    apps = repo / "applications"
    labels = [pair.label for pair in discover_pairs(apps, {})]
    # Not recursing into an app (web/templates is not an app of its own).
    assert labels == [
        "config",
        "dev/api",
        "dev/web",
        "dev/worker-a",
        "dev/worker-b",
        "prod/api",
        "prod/web",
        "prod/worker-a",
    ]


def test_without_repo_config_value_files_and_dotfiles_are_not_apps(repo: Path) -> None:
    (repo / "lsp-render-repo.yaml").unlink()
    (repo / ".git").mkdir()
    (repo / ".pre-commit-config.yaml").write_text("repos: []\n")
    labels = [pair.label for pair in discover_pairs(repo, {})]
    # environments/ holds YAML but no Kubernetes object; the root only a dotfile.
    assert not any("environments" in label for label in labels)
    assert "applications/config" in labels
    assert "dev/applications/web" in labels
    # Every chart counts as an application without a configuration to say otherwise.
    assert {"charts/common", "charts/worker"} <= set(labels)


def test_output_dir_inside_root_is_not_an_application(repo: Path) -> None:
    (repo / "lsp-render-repo.yaml").unlink()
    (repo / ".git").mkdir()
    apps = repo / "applications"
    out = apps / "rendered"
    first = render_all(apps, environ={}, jobs=1, output_dir=out, secrets=SECRETS)
    second = render_all(apps, environ={}, jobs=1, output_dir=out, secrets=SECRETS)
    assert len(first.results) == len(second.results) == len(ALL_PAIRS)
    assert (out / "config.yaml").is_file()  # the Helm apps need the repo config to render


def test_no_application_is_bad_usage(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = run(["render-all", str(tmp_path / "empty")])
    assert result.code == 2
    assert "no application found" in result.stderr
    assert result.stdout == ""


def test_renders_every_pair_and_writes_files_identical_to_render(repo: Path) -> None:
    out = repo.parent / "out"
    result = run(
        [
            "render-all",
            str(repo),
            "--output-dir",
            str(out),
            "--jobs",
            "2",
            "--secrets-file",
            str(SECRETS_FILE),
        ]
    )
    assert result.code == 0, result.stdout + result.stderr
    assert "total" in result.stdout
    assert "8 pairs in" in result.stdout
    assert "FAILED" not in result.stdout
    # Progress on a non-terminal stderr: one line per pair.
    assert sum(1 for line in result.stderr.splitlines() if line.startswith("[")) == 8
    written = _tree(out)
    assert sorted(written) == sorted(f"{label}.yaml" for label in ALL_PAIRS)
    for label in ALL_PAIRS:
        env, sep, app = label.partition("/applications/")
        if not sep:
            env, app = "", label.removeprefix("applications/")
        args = ["render", str(repo / "applications" / app), "--secrets-file", str(SECRETS_FILE)]
        if env:
            args += ["--env", env]
        single = run(args)
        assert single.code == 0, single.stderr
        assert written[f"{label}.yaml"] == single.stdout.encode("utf-8"), label
    for value in SECRET_VALUES:  # nothing secret in the summary or progress
        assert value not in result.stdout + result.stderr


def test_failures_are_reported_and_the_others_still_render(repo: Path) -> None:
    (repo / "applications" / "web" / "values-prod.yaml").write_text("replicas: [\n")
    (repo / "applications" / "worker-b" / "values-dev.yaml").write_text("queue: {{ broken\n")
    out = repo.parent / "out"
    stale = out / "prod" / "applications" / "web.yaml"
    stale.parent.mkdir(parents=True)
    stale.write_text("--- stale\n")
    result = run(["render-all", str(repo), "--output-dir", str(out), "--jobs", "2", "--no-secrets"])
    assert result.code == 1, result.stdout + result.stderr
    failed = [line for line in result.stdout.splitlines() if line.startswith("FAILED ")]
    assert [line.split(":", 1)[0] for line in failed] == [
        "FAILED dev/applications/worker-b",
        "FAILED prod/applications/web",
    ]
    assert "values-prod.yaml" in failed[1]
    assert not stale.exists()  # a failed pair leaves no stale success behind
    assert len(_tree(out)) == 6
    summary = result.stdout.splitlines()
    total = next(line for line in summary if line.startswith("total"))
    assert total.split()[1:3] == ["6", "2"]


def test_jobs_1_and_2_write_identical_output(repo: Path) -> None:
    one, two = repo.parent / "one", repo.parent / "two"
    report_1 = render_all(repo, environ=base_env(), jobs=1, output_dir=one, secrets=SECRETS)
    report_2 = render_all(repo, environ=base_env(), jobs=2, output_dir=two, secrets=SECRETS)
    assert report_1.exit_code == report_2.exit_code == 0
    assert report_2.jobs == 2
    assert _tree(one) == _tree(two)
    assert len(_tree(one)) == len(ALL_PAIRS)
    assert [(r.pair.label, r.objects) for r in report_1.results] == [
        (r.pair.label, r.objects) for r in report_2.results
    ]


def test_shared_chart_renders_per_app_values(repo: Path) -> None:
    out = repo.parent / "out"
    report = render_all(repo, environ={}, jobs=2, output_dir=out, secrets=SECRETS, envs=["dev"])
    assert report.exit_code == 0
    a = (out / "dev" / "applications" / "worker-a.yaml").read_text()
    b = (out / "dev" / "applications" / "worker-b.yaml").read_text()
    assert '"alpha-dev"' in a
    assert '"beta-dev"' in b
    assert "example.org/environment: dev" in a  # from the file:// library chart
    assert not (repo / "charts" / "worker" / "charts").exists()  # repository untouched


def test_worker_preload_never_loads_the_go_engine() -> None:
    import subprocess
    import sys

    from lsp_render.workflows.render_all import PRELOAD

    code = f"import sys; import {', '.join(PRELOAD)}; sys.exit('helm_python' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], env=base_env(), check=False)
    assert done.returncode == 0


def _result(label: str, *, ok: bool = True, objects: int = 2) -> PairResult:
    env, _, app = label.rpartition("/")
    pair = Pair(app, env or None, Path("/x") / app)
    if ok:
        return PairResult(pair, 0, objects, 0.5)
    return PairResult(pair, 1, 0, 0.25, "chart x: boom")


def test_summary_is_deterministic_whatever_the_finishing_order() -> None:
    results = [
        _result("prod/web"),
        _result("dev/web", ok=False),
        _result("dev/api"),
        _result("config", objects=1),
        _result("prod/api", ok=False),
    ]
    text = format_summary(results, 2.0, 2)
    shuffled = results[:]
    random.Random(7).shuffle(shuffled)
    assert format_summary(shuffled, 2.0, 2) == text
    lines = text.splitlines()
    assert lines[0].split() == ["environment", "rendered", "failed", "objects", "time"]
    assert [line.split()[0] for line in lines[2:5]] == ["(none)", "dev", "prod"]
    assert lines[3].split()[1:4] == ["1", "1", "2"]
    assert "5 pairs in 2.00s wall time with 2 jobs (2.5 pairs/s)" in text
    assert lines[-2:] == ["FAILED dev/web: chart x: boom", "FAILED prod/api: chart x: boom"]


def test_line_progress_counts_pairs() -> None:
    stream = io.StringIO()
    progress = LineProgress(stream, 2)
    progress.advance(_result("dev/web"))
    progress.advance(_result("dev/api", ok=False))
    assert stream.getvalue().splitlines() == [
        "[1/2] ok   dev/web (2 objects, 0.50s)",
        "[2/2] FAIL dev/api (exit 1, 0.25s)",
    ]


def test_tasks_group_an_apps_environments_when_there_are_enough_apps() -> None:
    pairs = [Pair(f"app{i}", env, Path(f"/x/app{i}")) for i in range(6) for env in ("dev", "prod")]
    tasks = plan_tasks(pairs, 2)
    assert len(tasks) == 6
    assert all(len({pair.rel for pair in task}) == 1 for task in tasks)
    assert len(plan_tasks(pairs, 4)) == 12  # few apps per worker: one pair per task


def test_workers_are_told_when_the_run_has_charts(tmp_path: Path) -> None:
    from lsp_render.workflows.discovery import Pair
    from lsp_render.workflows.render_all import _has_charts

    chart = tmp_path / "c"
    chart.mkdir()
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: c\nversion: 0.1.0\n")
    plain = tmp_path / "p"
    plain.mkdir()
    assert _has_charts([Pair("p", None, plain), Pair("c", "dev", chart)])
    assert not _has_charts([Pair("p", None, plain), Pair("p", "dev", plain)])
