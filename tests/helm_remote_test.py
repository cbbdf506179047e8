"""Remote charts (``helm.repo``/``name``/``version``) rendered through the real CLI.

The repository is ``tests/chartrepo.py``: a real Helm chart repository (and a
minimal OCI registry) on 127.0.0.1, serving archives Helm packaged itself, and
pulled by Helm's own engine (``helm-python-sdk``).
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lsp_render.config.app import HelmConfig
from lsp_render.core.errors import RenderError
from lsp_render.sources.helm.remote import RemoteChart, extract_chart, fetch_remote_chart
from tests.chartrepo import CHARTS, ChartRepo, archive_with, chart_repo
from tests.cli_helpers import Result, assert_failure, base_env, run

_CHART_YAML = b"apiVersion: v2\nname: evil\nversion: 0.1.0\n"
_TEMPLATE = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: evil\n"


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[ChartRepo]:
    """The chart repository with ``mychart`` 1.2.3 and 1.3.0."""
    with chart_repo(tmp_path / "server") as served:
        yield served


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """The HOME of the rendering processes (its cache is ``.cache/lsp-render/charts``)."""
    path = tmp_path / "render-home"
    path.mkdir()
    return path


def _app(tmp_path: Path, helm: str, *, values: str | None = "greeting: from the app\n") -> Path:
    """A repository holding one app whose lsp-render.yaml has the given ``helm`` section."""
    root = tmp_path / "gitops"
    app = root / "apps" / "web"
    app.mkdir(parents=True, exist_ok=True)
    (root / ".git").mkdir(exist_ok=True)
    (app / "lsp-render.yaml").write_text("helm:\n" + helm)
    if values is not None:
        (app / "values.yaml").write_text(values)
    return app


def _helm(repo: str, name: str = "mychart", version: str = "1.2.3", extra: str = "") -> str:
    return f"  repo: {repo}\n  name: {name}\n  version: '{version}'\n{extra}"


def _render(app: Path, home: Path, **extra_env: str) -> Result:
    return run(["render", str(app)], env=base_env(home), extra_env=extra_env)


def _cache(home: Path) -> Path:
    return home / ".cache" / "lsp-render" / "charts"


def _key(repo: str, name: str, version: str) -> str:
    return hashlib.sha256(f"{repo}\0{name}\0{version}".encode()).hexdigest()


def test_remote_chart_renders_with_the_apps_values(
    repo: ChartRepo, tmp_path: Path, home: Path
) -> None:
    app = _app(tmp_path, _helm(repo.url, extra="  namespace: shop\n"))
    result = _render(app, home)
    assert result.code == 0, result.stderr
    objects = result.objects()
    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [  # type: ignore[index]
        ("ConfigMap", "web-settings"),
        ("Service", "web"),
    ]
    config_map = objects[0]
    assert config_map["data"] == {"greeting": "from the app"}
    assert config_map["metadata"]["namespace"] == "shop"  # type: ignore[index]
    assert config_map["metadata"]["labels"] == {"chart-version": "1.2.3"}  # type: ignore[index]
    assert "# Source: mychart/templates/configmap.yaml" in result.stdout


def test_value_files_stay_relative_to_the_app_and_set_applies(
    repo: ChartRepo, tmp_path: Path, home: Path
) -> None:
    extra = "  valueFiles: [prod/values.yaml]\n  set: {greeting: from-set}\n"
    app = _app(tmp_path, _helm(repo.url, version="1.3.0", extra=extra))
    (app / "prod").mkdir()
    (app / "prod" / "values.yaml").write_text("greeting: from-prod\n")
    result = _render(app, home)
    assert result.code == 0, result.stderr
    config_map = result.objects()[0]
    assert config_map["data"] == {"greeting": "from-set"}
    assert config_map["metadata"]["labels"] == {"chart-version": "1.3.0"}  # type: ignore[index]
    extra = "  valueFiles: [prod/values.yaml]\n"
    _app(tmp_path, _helm(repo.url, version="1.3.0", extra=extra))
    assert _render(app, home).objects()[0]["data"] == {"greeting": "from-prod"}


def test_second_render_uses_the_cache_not_the_repository(
    repo: ChartRepo, tmp_path: Path, home: Path
) -> None:
    app = _app(tmp_path, _helm(repo.url))
    first = _render(app, home)
    assert first.code == 0, first.stderr
    assert repo.downloads() == ["/stable/mychart-1.2.3.tgz"]
    seen = len(repo.requests)
    second = _render(app, home)
    assert second.code == 0, second.stderr
    assert second.stdout == first.stdout
    assert len(repo.requests) == seen  # no index, no archive: the cache answered
    assert repo.downloads() == ["/stable/mychart-1.2.3.tgz"]


def test_cache_is_private_and_keyed_by_repo_name_and_version(
    repo: ChartRepo, tmp_path: Path, home: Path
) -> None:
    app = _app(tmp_path, _helm(repo.url))
    assert _render(app, home).code == 0
    cache = _cache(home)
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    files = sorted(cache.iterdir())
    assert [f.name for f in files] == [f"{_key(repo.url, 'mychart', '1.2.3')}.tgz"]
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    served = (repo.workdir / "packages" / "mychart-1.2.3.tgz").read_bytes()
    assert files[0].read_bytes() == served


def test_xdg_cache_home_is_honoured(repo: ChartRepo, tmp_path: Path, home: Path) -> None:
    app = _app(tmp_path, _helm(repo.url))
    xdg = tmp_path / "xdg"
    assert _render(app, home, XDG_CACHE_HOME=str(xdg)).code == 0
    assert len(list((xdg / "lsp-render" / "charts").glob("*.tgz"))) == 1
    assert not _cache(home).exists()


def test_corrupt_cached_archive_is_pulled_again(
    repo: ChartRepo, tmp_path: Path, home: Path
) -> None:
    app = _app(tmp_path, _helm(repo.url))
    first = _render(app, home)
    cached = _cache(home) / f"{_key(repo.url, 'mychart', '1.2.3')}.tgz"
    good = cached.read_bytes()
    cached.write_bytes(good[: len(good) // 2])  # a half-written archive
    second = _render(app, home)
    assert second.code == 0, second.stderr
    assert second.stdout == first.stdout
    assert len(repo.downloads()) == 2
    assert cached.read_bytes() == good
    cached.write_bytes(b"not gzip at all")
    assert _render(app, home).stdout == first.stdout
    assert len(repo.downloads()) == 3


def test_unusable_cache_directory_only_disables_caching(
    repo: ChartRepo, tmp_path: Path, home: Path
) -> None:
    app = _app(tmp_path, _helm(repo.url))
    _cache(home).parent.parent.mkdir(parents=True)
    _cache(home).parent.write_text("")  # lsp-render/charts cannot be created
    for _ in range(2):
        result = _render(app, home)
        assert result.code == 0, result.stderr
    assert len(repo.downloads()) == 2  # nothing cached, nothing broken
    _cache(home).parent.unlink()
    _cache(home).parent.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    _cache(home).symlink_to(elsewhere)  # not a directory of its own: not used
    assert _render(app, home).code == 0
    assert len(repo.downloads()) == 3
    assert list(elsewhere.iterdir()) == []


def test_missing_version_fails_naming_repo_chart_and_version(
    repo: ChartRepo, tmp_path: Path, home: Path
) -> None:
    app = _app(tmp_path, _helm(repo.url, version="9.9.9"))
    assert_failure(_render(app, home), 1, "apps/web", repo.url, "mychart", "9.9.9")
    app = _app(tmp_path, _helm(repo.url, name="nochart"))
    assert_failure(_render(app, home), 1, repo.url, "nochart", "1.2.3")
    assert not list(_cache(home).glob("*.tgz"))


def test_unreachable_repository_fails_with_exit_1(tmp_path: Path, home: Path) -> None:
    down = ChartRepo(tmp_path / "down")
    url = down.url
    down.stop()  # the port is closed again: connection refused
    app = _app(tmp_path, _helm(url))
    assert_failure(_render(app, home), 1, url, "mychart", "1.2.3")


def test_pull_is_bounded_by_the_engine_timeout(repo: ChartRepo, tmp_path: Path, home: Path) -> None:
    repo.stall = True
    app = _app(tmp_path, _helm(repo.url))
    result = _render(app, home, LSP_RENDER_ENGINE_TIMEOUT="1")
    assert_failure(result, 1, "mychart", "1.2.3", "did not finish within 1 s")


@pytest.mark.parametrize(
    ("members", "links", "reason"),
    [
        (
            {"evil/Chart.yaml": _CHART_YAML, "../../evil": b"owned\n"},
            None,
            "outside the destination",
        ),
        ({"evil/Chart.yaml": _CHART_YAML, "/tmp/evil-abs": b"owned\n"}, None, "absolute"),
        ({"evil/Chart.yaml": _CHART_YAML}, {"evil/templates": "../../.."}, "is a link"),
    ],
)
def test_hostile_archives_are_refused(  # noqa: PLR0917 - fixtures and parameters
    repo: ChartRepo,
    tmp_path: Path,
    home: Path,
    members: dict[str, bytes],
    links: dict[str, str] | None,
    reason: str,
) -> None:
    members = {**members, "evil/templates/cm.yaml": _TEMPLATE} if not links else members
    repo.add_archive("evil", "0.1.0", archive_with(members, links))
    app = _app(tmp_path, _helm(repo.url, name="evil", version="0.1.0"))
    result = _render(app, home)
    assert_failure(result, 1, "chart evil version 0.1.0", "refusing the chart archive", reason)
    assert not (tmp_path / "evil").exists()
    assert not (tmp_path.parent / "evil").exists()
    assert not Path("/tmp/evil-abs").exists()
    assert not list(_cache(home).glob("*.tgz"))  # never cached


def test_archive_that_is_not_the_named_chart_is_refused(tmp_path: Path) -> None:
    chart = RemoteChart("https://charts.example.org", "other", "1.2.3")
    data = (CHARTS / "mychart" / "Chart.yaml").read_bytes()
    data = archive_with({"mychart/Chart.yaml": data})
    with pytest.raises(RenderError, match="its Chart.yaml is mychart version 1.2.3"):
        extract_chart(data, tmp_path / "x", chart)
    assert not (tmp_path / "x").exists()


def test_config_mistakes_are_exit_2_naming_the_key(tmp_path: Path, home: Path) -> None:
    cases = [
        ("  repo: https://charts.example.org\n  name: mychart\n", "helm.version"),
        ("  name: mychart\n  version: 1.2.3\n", "helm.repo"),
        (_helm("https://charts.example.org", version="^1.2.0"), "helm.version"),
        (_helm("https://charts.example.org", version="1.2"), "helm.version"),
        (_helm("https://charts.example.org", extra="  chart: ../x\n"), "helm.chart"),
        (_helm("file:///etc"), "helm.repo"),
        (_helm("https://user:pw@charts.example.org"), "helm.repo"),
        (_helm("https://charts.example.org", name="--kubeconfig=/x"), "helm.name"),
    ]
    for helm, key in cases:
        app = _app(tmp_path, helm)
        result = _render(app, home)
        assert_failure(result, 2, "apps/web/lsp-render.yaml", key)
        assert "pw" not in result.stderr


def test_credentials_go_only_to_their_repository(tmp_path: Path, home: Path) -> None:
    secret = "s3cr3t-pa55"
    with chart_repo(tmp_path / "server", auth=("robot", secret)) as repo:
        app = _app(tmp_path, _helm(repo.url))
        creds = {
            "LSP_RENDER_HELM_REPO_USERNAME": "robot",
            "LSP_RENDER_HELM_REPO_PASSWORD": secret,
        }
        # From the Application's environment they do not count.
        argocd = {f"ARGOCD_ENV_{k}": v for k, v in creds.items()}
        refused = _render(app, home, **argocd, ARGOCD_ENV_LSP_RENDER_HELM_REPO_URL=repo.url)
        assert_failure(refused, 1, repo.url, "mychart")
        # Scoped to another repository: never sent to this one.
        other = _render(app, home, **creds, LSP_RENDER_HELM_REPO_URL="https://charts.example.org")
        assert_failure(other, 1, repo.url)
        assert all(r.authorization is None for r in repo.requests)
        # Without a scope: a clear configuration error, nothing sent.
        assert_failure(_render(app, home, **creds), 2, "LSP_RENDER_HELM_REPO_URL")
        ok = _render(app, home, **creds, LSP_RENDER_HELM_REPO_URL=repo.url)
        assert ok.code == 0, ok.stderr
        assert repo.requests[-1].authorization is not None
        # A wrong password fails with one line that holds neither value.
        wrong = {**creds, "LSP_RENDER_HELM_REPO_PASSWORD": "wr0ng-pa55"}
        app = _app(tmp_path, _helm(repo.url, version="1.3.0"))
        failed = _render(app, home, **wrong, LSP_RENDER_HELM_REPO_URL=repo.url)
        assert_failure(failed, 1, repo.url, "1.3.0")
        for result in (refused, other, failed):
            assert secret not in result.stderr
            assert "wr0ng-pa55" not in result.stderr


def test_oci_registry_over_plain_http(repo: ChartRepo, tmp_path: Path, home: Path) -> None:
    app = _app(tmp_path, _helm(repo.oci_url, version="1.3.0"))
    host = repo.oci_url.removeprefix("oci://").split("/", 1)[0]
    result = _render(app, home, LSP_RENDER_HELM_PLAIN_HTTP_REGISTRIES=host)
    assert result.code == 0, result.stderr
    config_map = result.objects()[0]
    assert config_map["metadata"]["labels"] == {"chart-version": "1.3.0"}  # type: ignore[index]
    assert any(r.path == "/v2/stable/mychart/manifests/1.3.0" for r in repo.requests)
    seen = len(repo.requests)
    assert _render(app, home, LSP_RENDER_HELM_PLAIN_HTTP_REGISTRIES=host).stdout == result.stdout
    assert len(repo.requests) == seen
    key = _key(repo.oci_url, "mychart", "1.3.0")
    assert (_cache(home) / f"{key}.tgz").is_file()


def test_oci_registry_without_plain_http_setting_fails_cleanly(
    repo: ChartRepo, tmp_path: Path, home: Path
) -> None:
    app = _app(tmp_path, _helm(repo.oci_url, version="1.3.0"))
    assert_failure(_render(app, home), 1, repo.oci_url, "mychart", "1.3.0")


_FAKE_HELM = """\
#!{python}
# A stand-in for the helm binary: logs its argv, then pulls with Helm's own engine.
import json, os, sys
argv = sys.argv[1:]
with open(os.environ["FAKE_HELM_LOG"], "a") as log:
    log.write(json.dumps(argv) + "\\n")
import helm_python
ref = argv[1]
opts = dict(zip(argv[2::2], argv[3::2]))
helm_python.pull(ref, version=opts["--version"], repo_url=opts.get("--repo"),
                 destination=opts["--destination"], username=opts.get("--username"),
                 password=opts.get("--password"))
"""


def test_binary_engine_pulls_with_helm_pull_argv(
    repo: ChartRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    helm = tmp_path / "bin" / "helm"
    helm.parent.mkdir()
    helm.write_text(_FAKE_HELM.format(python=sys.executable))
    helm.chmod(0o755)
    log = tmp_path / "helm-calls.jsonl"
    monkeypatch.setenv("LSP_RENDER_HELM", str(helm))
    monkeypatch.setenv("FAKE_HELM_LOG", str(log))

    section = HelmConfig.model_validate({"repo": repo.url, "name": "mychart", "version": "1.3.0"})
    environ = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    chart_dir = fetch_remote_chart(section, where="apps/web/lsp-render.yaml", environ=environ)
    assert (chart_dir / "Chart.yaml").read_text().count("version: 1.3.0") == 1
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(calls) == 1
    argv = calls[0]
    destination = argv[argv.index("--destination") + 1]
    assert argv == [
        "pull",
        "mychart",
        "--version",
        "1.3.0",
        "--repo",
        repo.url,
        "--destination",
        destination,
    ]


def test_scratch_space_is_removed_when_the_process_exits(
    repo: ChartRepo, tmp_path: Path, home: Path
) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    app = _app(tmp_path, _helm(repo.url))
    result = _render(app, home, TMPDIR=str(scratch))
    assert result.code == 0, result.stderr
    assert list(scratch.iterdir()) == []


def test_the_repository_is_not_written(repo: ChartRepo, tmp_path: Path, home: Path) -> None:
    app = _app(tmp_path, _helm(repo.url))
    before = sorted(p.relative_to(tmp_path) for p in (tmp_path / "gitops").rglob("*"))
    assert _render(app, home).code == 0
    after = sorted(p.relative_to(tmp_path) for p in (tmp_path / "gitops").rglob("*"))
    assert after == before


def test_hybrid_remote_chart_with_a_last_mile_kustomization(
    repo: ChartRepo, tmp_path: Path, home: Path
) -> None:
    app = _app(tmp_path, _helm(repo.url) + "kustomize:\n  path: .\n")
    (app / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\n"
        "kind: Kustomization\n"
        "patches:\n"
        "  - target: {kind: ConfigMap, name: web-settings}\n"
        "    patch: |-\n"
        "      - op: add\n"
        "        path: /data/patched\n"
        "        value: 'yes'\n"
    )
    result = _render(app, home)
    assert result.code == 0, result.stderr
    by_kind = {o["kind"]: o for o in result.objects()}
    assert set(by_kind) == {"ConfigMap", "Service"}
    assert by_kind["ConfigMap"]["data"] == {"greeting": "from the app", "patched": "yes"}


def test_init_prefetches_the_chart_into_the_cache(
    repo: ChartRepo, tmp_path: Path, home: Path
) -> None:
    app = _app(tmp_path, _helm(repo.url))
    init = run(["init", str(app)], env=base_env(home))
    assert init.code == 0, init.stderr
    assert repo.downloads() == ["/stable/mychart-1.2.3.tgz"]
    assert _render(app, home).code == 0
    assert repo.downloads() == ["/stable/mychart-1.2.3.tgz"]


def test_remote_chart_with_a_vendored_file_dependency(
    repo: ChartRepo, tmp_path: Path, home: Path
) -> None:
    # A packaged chart keeps its Chart.yaml's file:// lines; its charts/ holds the dependency.
    source = tmp_path / "src" / "umbrella"
    (source / "templates").mkdir(parents=True)
    (source / "Chart.yaml").write_text(
        "apiVersion: v2\nname: umbrella\nversion: 0.1.0\n"
        "dependencies:\n  - name: common\n    version: 0.1.0\n"
        "    repository: file://../common\n"
    )
    (source / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: umbrella\n"
    )
    common = source / "charts" / "common"
    (common / "templates").mkdir(parents=True)
    (common / "Chart.yaml").write_text("apiVersion: v2\nname: common\nversion: 0.1.0\n")
    (common / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-common\n"
    )
    repo.add_packaged(source, "0.1.0")
    app = _app(tmp_path, _helm(repo.url, name="umbrella", version="0.1.0"), values=None)
    result = _render(app, home)
    assert result.code == 0, result.stderr
    names = sorted(o["metadata"]["name"] for o in result.objects())  # type: ignore[index]
    assert names == ["from-common", "umbrella"]
