"""Chart dependencies: file:// ones built offline in scratch, others must be vendored."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from lsp_render.core.errors import InputError, RenderError
from lsp_render.sources.helm import build_dependencies, render_chart
from lsp_render.sources.helm.embedded import _load
from tests.helm_fixtures import REPO, embedded_only, inputs, objects, snapshot

__all__ = ["embedded_only"]

pytestmark = pytest.mark.usefixtures("embedded_only")

_HSC = "prompt-keda-hsc"
_SETS = ("global.vaultSecretsPath=secret/rubin/usdf-prompt-processing-dev",)


@pytest.fixture
def private_tmp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Point tempfile (and so every scratch directory) at a directory of the test's own."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    return scratch


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """A writable copy of the test repository."""
    copy = tmp_path / "repo"
    shutil.copytree(REPO, copy, symlinks=True)
    return copy


def _hsc_inputs(root: Path = REPO) -> dict[str, object]:
    chart = root / "applications" / _HSC
    return {
        "chart_dir": chart,
        "repo_root": root,
        "value_files": (chart / "values.yaml", chart / "values-usdfdev-prompt-processing.yaml"),
        "set_values": _SETS,
    }


def test_file_dependency_is_built_in_scratch_and_rendered(private_tmp: Path) -> None:
    from lsp_render.sources.helm.engine_child import stop_engine_child

    before = snapshot(REPO)
    docs = render_chart(inputs(_HSC, **_hsc_inputs()))
    assert snapshot(REPO) == before
    # The engine child keeps its own directory while it lives (it serves later renders);
    # once it is stopped, nothing of the render may be left.
    stop_engine_child()
    assert list(private_tmp.iterdir()) == []
    assert docs
    assert all(d.source.startswith(f"{_HSC}/charts/prompt-keda/templates/") for d in docs)
    kinds = {o["kind"] for o in objects(docs)}
    assert {"ScaledJob", "VaultSecret"} <= kinds


def test_built_chart_is_cached_until_a_file_changes(repo_copy: Path) -> None:
    chart = repo_copy / "applications" / _HSC
    first = _load(chart, repo_copy)
    assert _load(chart, repo_copy) is first
    dep_values = repo_copy / "charts" / "prompt-keda" / "values.yaml"
    dep_values.write_text(dep_values.read_text() + "\n# changed\n")
    os.utime(dep_values, ns=(1, 1))
    assert _load(chart, repo_copy) is not first


def test_missing_remote_dependency_is_a_render_error() -> None:
    with pytest.raises(RenderError) as caught:
        render_chart(inputs("lsp-missing-remote"))
    message = str(caught.value)
    assert message.startswith(
        "chart lsp-missing-remote: dependencies found in Chart.yaml but missing in charts/: "
        "redis (https://charts.example.org);"
    )
    assert "lsp-render init" in message
    assert "vendor each one into charts/" in message
    assert "prompt-keda" not in message


def test_file_dependency_outside_the_repository_is_an_input_error() -> None:
    with pytest.raises(InputError, match=r"dependency outside \(file://\.\./\.\./\.\./outside\) "):
        render_chart(inputs("lsp-escape-dep"))


def test_symlink_leaving_the_repository_is_an_input_error(repo_copy: Path, tmp_path: Path) -> None:
    secret = tmp_path / "outside.yaml"
    secret.write_text("a: 1\n")
    chart = repo_copy / "applications" / "lsp-order"
    (chart / "templates" / "leak.yaml").symlink_to(secret)
    with pytest.raises(InputError, match=r"leak\.yaml: symbolic link leaves the repository"):
        render_chart(inputs("lsp-order", chart_dir=chart, repo_root=repo_copy))


def test_build_dependencies_in_place_for_init(repo_copy: Path, private_tmp: Path) -> None:
    chart = repo_copy / "applications" / _HSC
    build_dependencies(chart, repo_copy)
    assert (chart / "charts" / "prompt-keda-1.0.0.tgz").is_file()
    after_build = snapshot(repo_copy)
    build_dependencies(chart, repo_copy)  # nothing missing: nothing done
    assert snapshot(repo_copy) == after_build
    docs = render_chart(inputs(_HSC, **_hsc_inputs(repo_copy)))
    assert list(private_tmp.iterdir()) == []
    assert {"ScaledJob", "VaultSecret"} <= {o["kind"] for o in objects(docs)}


def test_build_dependencies_refuses_remote_ones(repo_copy: Path) -> None:
    with pytest.raises(RenderError, match=r"missing in charts/: redis"):
        build_dependencies(repo_copy / "applications" / "lsp-missing-remote", repo_copy)


def test_symlink_loop_inside_the_repository_fails_cleanly(repo_copy: Path) -> None:
    chart = repo_copy / "applications" / "lsp-order"
    (chart / "loop").symlink_to(chart)
    # lsp-render's own walk stops; Helm's loader then gives up as the helm CLI does.
    with pytest.raises(RenderError, match=r"^chart lsp-order: .*too many levels of symbolic links"):
        _load(chart, repo_copy)


def test_a_build_mirrors_only_the_way_to_its_file_dependencies(tmp_path: Path) -> None:
    """Linking every sibling of a chart cost ~0.5 ms each in a repository of 75 apps."""
    from pathlib import PurePath

    from lsp_render.core.scratch import mirror

    repo = tmp_path / "repo"
    (repo / "apps" / "a" / "templates").mkdir(parents=True)
    for name in ("b", "c", "d"):
        (repo / "apps" / name).mkdir()
    (repo / "charts" / "lib").mkdir(parents=True)
    (repo / "docs").mkdir()
    narrow, wide = tmp_path / "narrow", tmp_path / "wide"
    narrow.mkdir()
    wide.mkdir()
    copy = mirror(repo, repo / "apps" / "a", narrow, reach={PurePath("charts/lib")})
    assert sorted(p.name for p in (narrow / "repo").iterdir()) == ["apps", "charts"]
    assert sorted(p.name for p in (narrow / "repo" / "apps").iterdir()) == ["a"]
    assert (copy / "templates").is_dir()
    assert os.path.realpath(copy / ".." / ".." / "charts" / "lib") == str(repo / "charts" / "lib")
    mirror(repo, repo / "apps" / "a", wide)  # without reach: every sibling, as before
    assert sorted(p.name for p in (wide / "repo" / "apps").iterdir()) == ["a", "b", "c", "d"]


def test_chart_yaml_is_parsed_once_per_text(tmp_path: Path) -> None:
    from lsp_render.sources.helm.dependencies import _read_yaml

    path = tmp_path / "Chart.yaml"
    path.write_text("name: a\n")
    first = _read_yaml(path, "Chart.yaml")
    assert _read_yaml(path, "Chart.yaml") is first
    path.write_text("name: b\n")  # same size, same clock tick: the text is the key
    assert _read_yaml(path, "Chart.yaml") == {"name": "b"}
