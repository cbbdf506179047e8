"""Confinement and bounds, through the real CLI: nothing outside the repository, no network.

Each case builds a small hostile repository under ``tmp_path`` (a ``.git`` marks its
root) and renders ``apps/app`` (or runs ``render-all``/``init``). A local HTTP server on
127.0.0.1 counts every connection it accepts: a refused reference must reach it zero
times. The matrix rows are checked by ``tests/hardening_matrix_test.py``.
"""

from __future__ import annotations

import io
import json
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.cli_helpers import Result, base_env, run
from tests.hardening_matrix_test import Case, check_case, run_limited, write_app

__all__ = ["CASES"]

CHART = "apiVersion: v2\nname: app\nversion: 0.1.0\n"
SUBCHART = "apiVersion: v2\nname: sub\nversion: 0.1.0\n"
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  x: {{ .Values.x | quote }}\n"
PLAIN_CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n"
OUTSIDE_CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-outside\n"
FETCHED = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fetched\n"


class Server:
    """A TCP server on 127.0.0.1 that counts connections and answers HTTP with a ConfigMap."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            if self._stop:
                conn.close()
                return
            self.connections += 1
            with conn:
                conn.settimeout(2)
                try:
                    conn.recv(65536)
                    body = FETCHED.encode()
                    head = (
                        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
                    )
                    conn.sendall(head.encode() + body)
                except OSError:
                    pass

    def close(self) -> None:
        self._stop = True
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                pass
        except OSError:
            pass
        self.sock.close()
        self._thread.join(timeout=5)


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server()
    try:
        yield srv
    finally:
        srv.close()


# A builder writes the repository (tmp/repo) and returns extra args and environment.
Builder = Callable[[Path, Path, Server], tuple[list[str], dict[str, str]]]
_BUILDERS: dict[str, Builder] = {}


def _case(case_id: str) -> Callable[[Builder], Builder]:
    def register(fn: Builder) -> Builder:
        _BUILDERS[case_id] = fn
        return fn

    return register


def _kustomization(repo: Path, text: str, extra: dict[str, str] | None = None) -> None:
    write_app(repo, {"apps/app/kustomization.yaml": text, **(extra or {})})


def _outside(tmp: Path) -> Path:
    return write_app(
        tmp / "outside",
        {
            "base/kustomization.yaml": "resources: [cm.yaml]\n",
            "base/cm.yaml": OUTSIDE_CM,
            "secret.txt": "outside-secret\n",
            "chart/Chart.yaml": SUBCHART,
            "chart/templates/cm.yaml": OUTSIDE_CM,
        },
    )


def _link(repo: Path, rel: str, target: str | Path) -> None:
    path = repo / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)


REMOTE = ("is a remote reference", "network.allowHosts")

CASES = [
    # -- Kustomize: remote references -----------------------------------------------------------
    Case(
        "kustomize-resource-http",
        "kustomization resource from an http:// URL",
        2,
        ("apps/app", "apps/app/kustomization.yaml", "resources entry 'http://127.0.0.1:", *REMOTE),
    ),
    Case(
        "kustomize-resource-https-git",
        "kustomization resource from an https:// git URL",
        2,
        ("apps/app/kustomization.yaml", "resources entry 'https://127.0.0.1:", *REMOTE),
    ),
    Case(
        "kustomize-resource-ssh",
        "kustomization resource from an ssh:// git URL",
        2,
        ("apps/app/kustomization.yaml", "resources entry 'ssh://", *REMOTE),
    ),
    Case(
        "kustomize-resource-scp",
        "kustomization resource from a git@host: address",
        2,
        ("apps/app/kustomization.yaml", "resources entry 'git@127.0.0.1:", *REMOTE),
    ),
    Case(
        "kustomize-component-host-path",
        "kustomization component named host/org/repo (git shorthand)",
        2,
        ("apps/app/kustomization.yaml", "components entry 'localhost.localdomain/", *REMOTE),
    ),
    Case(
        "kustomize-resource-file-git",
        "kustomization resource from a file:// local git repository",
        2,
        ("apps/app/kustomization.yaml", "resources entry 'file://", "a file:// URL"),
    ),
    Case(
        "kustomize-base-remote",
        "remote resource in a local base",
        2,
        ("apps/base/kustomization.yaml", "resources entry 'http://127.0.0.1:", *REMOTE),
    ),
    Case(
        "kustomize-generator-file-http",
        "configMapGenerator file from an http:// URL",
        2,
        ("apps/app/kustomization.yaml", "configMapGenerator[0].files[0]", *REMOTE),
    ),
    Case(
        "kustomize-remote-allowed",
        "remote resource on a host the policy's network.allowHosts names",
        0,
    ),
    # -- Kustomize: local references outside the repository --------------------------------------
    Case(
        "kustomize-symlink-dotdot",
        "in-repository symlink followed by .. (Go cleans the text first)",
        2,
        ("apps/app/kustomization.yaml", "resources entry 'link/../../../../outside/base'"),
    ),
    Case(
        "kustomize-generator-file-outside",
        "configMapGenerator file outside the repository",
        2,
        ("apps/app/kustomization.yaml", "configMapGenerator[0].files[0]", "leaves the repository"),
    ),
    Case(
        "kustomize-generator-env-symlink",
        "secretGenerator env file symlinked outside",
        2,
        ("apps/app/kustomization.yaml", "secretGenerator[0].envs[0]", "leaves the repository"),
    ),
    Case(
        "kustomize-patch-outside",
        "patch file outside the repository",
        2,
        ("apps/app/kustomization.yaml", "patches[0].path", "leaves the repository"),
    ),
    Case(
        "kustomize-crds-outside",
        "crds entry outside the repository",
        2,
        ("apps/app/kustomization.yaml", "crds entry", "leaves the repository"),
    ),
    Case(
        "kustomize-openapi-outside",
        "openapi.path outside the repository",
        2,
        ("apps/app/kustomization.yaml", "openapi.path", "leaves the repository"),
    ),
    Case(
        "kustomize-generator-config-file",
        "generator configuration file naming a file outside the repository",
        2,
        ("apps/app/kustomization.yaml", "generators ConfigMapGenerator.files[0]"),
    ),
    # -- Helm ----------------------------------------------------------------------------------
    Case(
        "helm-schema-ref-http",
        "values.schema.json $ref to an http:// URL",
        2,
        ("chart app", "app/values.schema.json", "$ref 'http://127.0.0.1:", "not a local fragment"),
    ),
    Case(
        "helm-schema-ref-file",
        "values.schema.json $ref to file:///etc/hostname",
        2,
        ("chart app", "app/values.schema.json", "$ref 'file:///etc/hostname'"),
    ),
    Case(
        "helm-schema-ref-subchart",
        "deep $ref to a relative file in a subchart's schema",
        2,
        ("chart app", "app/charts/sub/values.schema.json", "$ref 'other.json#/x'"),
    ),
    Case(
        "helm-schema-ref-archive",
        "$ref in the schema of a subchart archive in charts/",
        2,
        ("chart app", "app/charts/sub-0.1.0.tgz:sub/values.schema.json", "$ref 'http://"),
    ),
    Case(
        "helm-schema-meta-http",
        "values.schema.json with an unknown $schema URL",
        2,
        ("chart app", "app/values.schema.json", "$schema 'http://127.0.0.1:"),
    ),
    Case(
        "helm-file-dependency-dotdot",
        "file:// dependency through an in-repository symlink followed by ..",
        2,
        ("Chart.yaml", "dependency sub", "is outside the repository"),
    ),
    # -- writes ------------------------------------------------------------------------------------
    Case(
        "write-render-all-link",
        "render-all --output-dir with rendered/apps -> ../../victim",
        2,
        ("--output-dir", "apps is a symbolic link", "refusing to write there"),
    ),
    Case(
        "write-render-all-link-failing",
        "render-all --output-dir link, pair failing (no delete there)",
        2,
        ("--output-dir", "apps is a symbolic link", "refusing to write there"),
    ),
    Case(
        "write-init-charts-link",
        "init with charts/ symlinked outside the chart",
        2,
        ("chart app", "app/charts", "symbolic link out of the chart"),
    ),
    # -- bounds: Jinja2 in configuration files ----------------------------------------------------
    *(
        Case(
            f"bound-jinja-{name}",
            title,
            2,
            ("apps/app/lsp-render.yaml:2", "helm.releaseName", "template refused", needle),
        )
        for name, title, needle in (
            ("center", "Jinja2 'a' filtered by center(300000000)", "|center with a width"),
            ("format", "Jinja2 '%300000000s' filtered by format(1)", "a format width over"),
            ("indent", "Jinja2 indent filter on a long multi-line string", "|indent would build"),
            (
                "replace",
                "Jinja2 replace filter that multiplies a long string",
                "replace would build",
            ),
            ("list-repeat", "Jinja2 nested list repetition printed", "'*' would be too large"),
            ("str-method", "Jinja2 str.format with a huge width", "a format width over"),
            ("loop-output", "Jinja2 loop printing a long string", "result is longer than"),
            ("nested-loops", "Jinja2 nested loops over 'x' * 99999 (time bound)", "ran longer"),
        )
    ),
    Case(
        "bound-jinja-repo-config",
        "Jinja2 blow-up in lsp-render-repo.yaml helm.set",
        2,
        ("lsp-render-repo.yaml", "helm.set", "template refused"),
    ),
    # -- bounds: the embedded Helm engine ------------------------------------------------------
    Case(
        "bound-helm-timeout",
        "runaway template (nested range until 100000) in a hybrid with resolveInValues",
        1,
        ("chart app", "did not finish within 2 s", "LSP_RENDER_ENGINE_TIMEOUT"),
    ),
    Case(
        "bound-helm-sigterm",
        "SIGTERM during a runaway embedded Helm render",
        1,
        ("terminated by SIGTERM",),
    ),
    # -- configuration files ---------------------------------------------------------------------
    Case(
        "config-symlink-plain",
        "lsp-render.yaml symlinked outside (plain app)",
        2,
        ("apps/app/lsp-render.yaml", "symlink leaves the repository"),
    ),
    Case(
        "config-symlink-kustomize",
        "lsp-render.yaml symlinked outside (kustomize app)",
        2,
        ("apps/app/lsp-render.yaml", "symlink leaves the repository"),
    ),
]
_BY_ID = {case.id: case for case in CASES}


def _setup(tmp_path: Path, case: Case, server: Server) -> tuple[Path, list[str], dict[str, str]]:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "apps" / "app").mkdir(parents=True)
    args, env = _BUILDERS[case.id](repo, tmp_path, server)
    return repo, args, env


@pytest.mark.parametrize(
    "case", [c for c in CASES if not c.id.startswith(("write-", "bound-"))], ids=lambda c: c.id
)
def test_confined_render(case: Case, tmp_path: Path, server: Server) -> None:
    repo, args, env = _setup(tmp_path, case, server)
    environ = {**base_env(tmp_path / "home"), **env}
    result = run(["render", "apps/app", *args], cwd=repo, env=environ, timeout=60)
    check_case(case, result)
    assert "from-outside" not in result.stdout
    assert "outside-secret" not in result.stdout + result.stderr
    if case.code == 0:
        assert server.connections > 0  # the allowed host was reached: the check is live
        assert "name: fetched" in result.stdout
    else:
        assert server.connections == 0, "a hostile reference reached the network"


PRECIOUS = "precious: true\n"


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.id.startswith("write-render-all")], ids=lambda c: c.id
)
def test_render_all_writes_stay_inside(case: Case, tmp_path: Path) -> None:
    repo = write_app(tmp_path / "repo", {"apps/web/cm.yaml": PLAIN_CM})
    (repo / ".git").mkdir()
    if case.id.endswith("failing"):
        write_app(repo, {"apps/bad/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: [\n"})
    victim = write_app(tmp_path / "victim", {"web.yaml": PRECIOUS, "bad.yaml": PRECIOUS})
    out = tmp_path / "out" / "rendered"
    out.mkdir(parents=True)
    (out / "apps").symlink_to("../../victim")
    result = run(
        ["render-all", str(repo), "--output-dir", str(out), "--no-secrets", "--jobs", "1"],
        cwd=tmp_path,
        env=base_env(tmp_path / "home"),
    )
    check_case(case, result)
    assert sorted(p.name for p in victim.iterdir()) == ["bad.yaml", "web.yaml"]
    assert all(p.read_text() == PRECIOUS for p in victim.iterdir())


def test_writes_below_never_follow_a_link(tmp_path: Path) -> None:
    """The second line behind the check: a link that appears later is still not followed."""
    from lsp_render.core.errors import InputError
    from lsp_render.core.safewrite import unlink_below, write_below

    victim = write_app(tmp_path / "victim", {"x.yaml": PRECIOUS})
    out = tmp_path / "out"
    write_below(out, Path("apps/x.yaml"), b"ok\n")
    assert (out / "apps" / "x.yaml").read_bytes() == b"ok\n"
    (out / "apps" / "x.yaml").unlink()
    (out / "apps").rmdir()
    (out / "apps").symlink_to(victim)
    with pytest.raises(InputError, match="symbolic link"):
        write_below(out, Path("apps/x.yaml"), b"pwned\n")
    unlink_below(out, Path("apps/x.yaml"))
    assert (victim / "x.yaml").read_text() == PRECIOUS
    assert sorted(p.name for p in victim.iterdir()) == ["x.yaml"]


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.id == "write-init-charts-link"], ids=lambda c: c.id
)
def test_init_writes_stay_inside(case: Case, tmp_path: Path) -> None:
    chart = CHART + "dependencies:\n- name: sub\n  version: 0.1.0\n  repository: file://../sub\n"
    repo = write_app(
        tmp_path / "repo",
        {
            "apps/app/Chart.yaml": chart,
            "apps/app/templates/cm.yaml": PLAIN_CM,
            "apps/sub/Chart.yaml": SUBCHART,
            "apps/sub/templates/cm.yaml": PLAIN_CM.replace("name: cm", "name: sub"),
        },
    )
    (repo / ".git").mkdir()
    old = _tgz({"old/Chart.yaml": SUBCHART.replace("name: sub", "name: old")})
    victim = write_app(tmp_path / "victim", {"old-0.1.0.tgz": old})
    (repo / "apps" / "app" / "charts").symlink_to(victim)
    result = run(["init", "apps/app"], cwd=repo, env=base_env(tmp_path / "home"))
    check_case(case, result)
    assert sorted(p.name for p in victim.iterdir()) == ["old-0.1.0.tgz"]
    assert (victim / "old-0.1.0.tgz").read_bytes() == old


JINJA = {
    "center": "{{ 'a'|center(300000000) }}",
    "format": "{{ '%300000000s'|format(1) }}",
    "indent": "{{ ('x\\n' * 50000)|indent(100) }}",
    "replace": "{{ ('a' * 100000)|replace('a', 'aaaa') }}",
    "list-repeat": "{{ [[1] * 100000] * 100000 }}",
    "str-method": "{{ '{:300000000}'.format(1) }}",
    "loop-output": "{% set s = 'x' * 99999 %}{% for a in s %}{{ s }}{% endfor %}",
    "nested-loops": (
        "{% set s = 'x' * 99999 %}{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}"
    ),
}


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.id.startswith("bound-jinja")], ids=lambda c: c.id
)
def test_jinja_is_bounded(case: Case, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    args: list[str] = []
    if case.id == "bound-jinja-repo-config":
        config = {"applications": ["apps/*"], "helm": {"set": {"x": JINJA["center"]}}}
        write_app(repo, {"lsp-render-repo.yaml": json.dumps(config)})
        args = ["--env", "dev"]
        _chart(repo, {"apps/app/values-dev.yaml": "x: dev\n"})
    else:
        expression = JINJA[case.id.removeprefix("bound-jinja-")]
        _chart(
            repo, {"apps/app/lsp-render.yaml": "helm:\n  releaseName: " + json.dumps(expression)}
        )
    result = run_limited(
        ["render", "apps/app", *args],
        cwd=repo,
        env=base_env(tmp_path / "home"),
        cpu_seconds=15,
        memory_mb=1024,
    )
    check_case(case, result)
    assert result.max_rss_mb < 300, result.max_rss_mb


RUNAWAY = "{{- range until 100000 }}{{- range until 100000 }}{{- end }}{{- end }}\n"
SECRET_VALUE = "hunter2-runaway"


def _runaway(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A hybrid app whose chart never finishes; its values hold a resolved secret."""
    repo = write_app(
        tmp_path / "repo",
        {
            "apps/app/Chart.yaml": CHART,
            "apps/app/templates/cm.yaml": CM.replace(".Values.x", ".Values.password"),
            "apps/app/templates/loop.yaml": RUNAWAY,
            "apps/app/values.yaml": 'password: "<path:secret/data/app#password>"\n',
            "apps/app/lsp-render.yaml": (
                "helm:\n  chart: .\n  valueFiles: [values.yaml]\nkustomize:\n  path: last-mile\n"
                "secrets:\n  resolveInValues: true\n"
            ),
            "apps/app/last-mile/kustomization.yaml": "resources: []\n",
        },
    )
    (repo / ".git").mkdir()
    write_app(tmp_path, {"secrets.yaml": f"secret/data/app:\n  password: {SECRET_VALUE}\n"})
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = {
        **base_env(tmp_path / "home"),
        "TMPDIR": str(scratch),
        "LSP_RENDER_ENGINE_TIMEOUT": "2",
    }
    return repo, env


def _processes_in(directory: Path) -> list[str]:
    """Processes whose working directory is ``directory`` or below it (engines, children)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cwd = str((proc / "cwd").readlink())
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if cwd == str(directory) or cwd.startswith(f"{directory}/"):
            found.append(f"{proc.name}: {cmdline}")
    return found


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


def _check_nothing_left(tmp_path: Path, repo: Path) -> None:
    assert _processes_in(repo) == [], "an engine outlived the render"
    assert list((tmp_path / "scratch").iterdir()) == [], "a scratch directory was left behind"


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.id == "bound-helm-timeout"], ids=lambda c: c.id
)
def test_runaway_helm_is_killed_on_timeout(case: Case, tmp_path: Path) -> None:
    repo, env = _runaway(tmp_path)
    secrets = str(tmp_path / "secrets.yaml")
    # The bound is the engine timeout (2 s) and 1 s to stop; the rest is start-up.
    result = run(["render", "apps/app", "--secrets-file", secrets], cwd=repo, env=env, timeout=15)
    check_case(case, result, forbidden=[SECRET_VALUE])
    _check_nothing_left(tmp_path, repo)


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.id == "bound-helm-sigterm"], ids=lambda c: c.id
)
def test_runaway_helm_stops_on_sigterm(case: Case, tmp_path: Path) -> None:
    repo, env = _runaway(tmp_path)
    env["LSP_RENDER_ENGINE_TIMEOUT"] = "60"
    secrets = str(tmp_path / "secrets.yaml")
    proc = subprocess.Popen(
        [sys.executable, "-m", "lsp_render", "render", "apps/app", "--secrets-file", secrets],
        cwd=repo,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # Wait until the engine runs: Kustomize and the engine child are children of the CLI.
        for _ in range(200):
            if len(_children(proc.pid)) >= 2 or proc.poll() is not None:
                break
            time.sleep(0.05)
        time.sleep(0.5)  # well inside the runaway loop
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=5)  # Argo CD sends SIGKILL after 5 s
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    check_case(case, Result(proc.returncode, out, err), forbidden=[SECRET_VALUE])
    _check_nothing_left(tmp_path, repo)


# -- builders: Kustomize remote ---------------------------------------------------------------


@_case("kustomize-resource-http")
def _(repo: Path, tmp: Path, srv: Server) -> tuple[list[str], dict[str, str]]:
    text = f"resources:\n- cm.yaml\n- {srv.url}/x.yaml\n"
    _kustomization(repo, text, {"apps/app/cm.yaml": PLAIN_CM})
    return [], {}


@_case("kustomize-resource-https-git")
def _(repo: Path, tmp: Path, srv: Server) -> tuple[list[str], dict[str, str]]:
    url = f"https://127.0.0.1:{srv.port}/org/repo.git//base?ref=main"
    _kustomization(repo, f"resources:\n- {url}\n")
    return [], {}


@_case("kustomize-resource-ssh")
def _(repo: Path, tmp: Path, srv: Server) -> tuple[list[str], dict[str, str]]:
    _kustomization(repo, f"resources:\n- ssh://git@127.0.0.1:{srv.port}/org/repo.git\n")
    return [], {}


@_case("kustomize-resource-scp")
def _(repo: Path, tmp: Path, srv: Server) -> tuple[list[str], dict[str, str]]:
    _kustomization(repo, "resources:\n- git@127.0.0.1:org/repo.git\n")
    return [], {"GIT_SSH_COMMAND": "false"}  # main would try: never let it leave the machine


@_case("kustomize-component-host-path")
def _(repo: Path, tmp: Path, srv: Server) -> tuple[list[str], dict[str, str]]:
    _kustomization(
        repo,
        "resources: [cm.yaml]\ncomponents:\n- localhost.localdomain/org/repo\n",
        {"apps/app/cm.yaml": PLAIN_CM},
    )
    return [], {}


@_case("kustomize-resource-file-git")
def _(repo: Path, tmp: Path, srv: Server) -> tuple[list[str], dict[str, str]]:
    other = write_app(
        tmp / "other-repo",
        {"kustomization.yaml": "resources: [cm.yaml]\n", "cm.yaml": OUTSIDE_CM},
    )
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(other)]
    for argv in (["init", "-q", "-b", "main"], ["add", "."], ["commit", "-q", "-m", "x"]):
        subprocess.run([*git, *argv], check=True, capture_output=True)
    _kustomization(repo, f"resources:\n- file://{other}\n")
    return [], {}


@_case("kustomize-base-remote")
def _(repo: Path, tmp: Path, srv: Server) -> tuple[list[str], dict[str, str]]:
    write_app(
        repo,
        {
            "apps/base/kustomization.yaml": f"resources:\n- {srv.url}/x.yaml\n",
            "apps/app/kustomization.yaml": "resources:\n- ../base\n",
        },
    )
    return [], {}


@_case("kustomize-generator-file-http")
def _(repo: Path, tmp: Path, srv: Server) -> tuple[list[str], dict[str, str]]:
    _kustomization(
        repo,
        "configMapGenerator:\n- name: meta\n  files:\n"
        f"  - {srv.url}/latest/meta-data/iam/security-credentials/role\n",
    )
    return [], {}


@_case("kustomize-remote-allowed")
def _(repo: Path, tmp: Path, srv: Server) -> tuple[list[str], dict[str, str]]:
    _kustomization(repo, f"resources:\n- {srv.url}/x.yaml\n")
    policy = tmp / "policy.yaml"
    policy.write_text(
        'projects:\n  "*":\n    paths: []\nnetwork:\n  allowHosts: [127.0.0.1]\n', encoding="utf-8"
    )
    return [], {"LSP_RENDER_POLICY": str(policy)}


# -- builders: Kustomize local references -----------------------------------------------------


@_case("kustomize-symlink-dotdot")
def _(repo: Path, tmp: Path, srv: Server) -> tuple[list[str], dict[str, str]]:
    _outside(tmp)
    # The decoy: where Python's resolve() lands (link first, then ..), inside the repository.
    write_app(
        repo,
        {
            "apps/app/outside/base/kustomization.yaml": "resources: [cm.yaml]\n",
            "apps/app/outside/base/cm.yaml": PLAIN_CM,
            "apps/app/a/b/c/d/.keep": "",
        },
    )
    _link(repo, "apps/app/link", "a/b/c/d")
    _kustomization(repo, "resources:\n- link/../../../../outside/base\n")
    return [], {}


@_case("kustomize-generator-file-outside")
def _(repo: Path, tmp: Path, srv: Server) -> tuple[list[str], dict[str, str]]:
    _outside(tmp)
    _kustomization(
        repo, "configMapGenerator:\n- name: s\n  files:\n  - key=../../../outside/secret.txt\n"
    )
    return [], {}


@_case("kustomize-generator-env-symlink")
def _(repo: Path, tmp: Path, srv: Server) -> tuple[list[str], dict[str, str]]:
    outside = _outside(tmp)
    _link(repo, "apps/app/app.env", outside / "secret.txt")
    _kustomization(repo, "secretGenerator:\n- name: s\n  envs:\n  - app.env\n")
    return [], {}


@_case("kustomize-patch-outside")
def _(repo: Path, tmp: Path, srv: Server) -> tuple[list[str], dict[str, str]]:
    outside = _outside(tmp)
    _link(repo, "apps/app/patch.yaml", outside / "base" / "cm.yaml")
    _kustomization(
        repo, "resources: [cm.yaml]\npatches:\n- path: patch.yaml\n", {"apps/app/cm.yaml": PLAIN_CM}
    )
    return [], {}


@_case("kustomize-crds-outside")
def _(repo: Path, tmp: Path, srv: Server) -> tuple[list[str], dict[str, str]]:
    _outside(tmp)
    _kustomization(
        repo,
        f"resources: [cm.yaml]\ncrds:\n- {tmp}/outside/base/cm.yaml\n",
        {"apps/app/cm.yaml": PLAIN_CM},
    )
    return [], {}


@_case("kustomize-openapi-outside")
def _(repo: Path, tmp: Path, srv: Server) -> tuple[list[str], dict[str, str]]:
    _outside(tmp)
    _kustomization(
        repo,
        "resources: [cm.yaml]\nopenapi:\n  path: ../../../outside/secret.txt\n",
        {"apps/app/cm.yaml": PLAIN_CM},
    )
    return [], {}


@_case("kustomize-generator-config-file")
def _(repo: Path, tmp: Path, srv: Server) -> tuple[list[str], dict[str, str]]:
    outside = _outside(tmp)
    _kustomization(
        repo,
        "generators:\n- gen.yaml\n",
        {
            "apps/app/gen.yaml": (
                "apiVersion: builtin\nkind: ConfigMapGenerator\nmetadata:\n  name: s\n"
                f"files:\n- {outside}/secret.txt\n"
            )
        },
    )
    return [], {}


# -- builders: Helm ---------------------------------------------------------------------------


def _chart(repo: Path, extra: dict[str, str | bytes]) -> None:
    write_app(
        repo,
        {
            "apps/app/Chart.yaml": CHART,
            "apps/app/templates/cm.yaml": CM,
            "apps/app/values.yaml": "x: ok\n",
            **extra,
        },
    )


def _schema(ref: str) -> str:
    return json.dumps(
        {
            "type": "object",
            "properties": {"x": {"type": "string"}, "deep": {"items": {"anyOf": [{"$ref": ref}]}}},
        }
    )


@_case("helm-schema-ref-http")
def _(repo: Path, tmp: Path, srv: Server) -> tuple[list[str], dict[str, str]]:
    _chart(repo, {"apps/app/values.schema.json": _schema(f"{srv.url}/schema.json")})
    return [], {}


@_case("helm-schema-ref-file")
def _(repo: Path, tmp: Path, srv: Server) -> tuple[list[str], dict[str, str]]:
    _chart(repo, {"apps/app/values.schema.json": _schema("file:///etc/hostname")})
    return [], {}


@_case("helm-schema-ref-subchart")
def _(repo: Path, tmp: Path, srv: Server) -> tuple[list[str], dict[str, str]]:
    _chart(
        repo,
        {
            "apps/app/charts/sub/Chart.yaml": SUBCHART,
            "apps/app/charts/sub/templates/cm.yaml": PLAIN_CM.replace("name: cm", "name: sub"),
            "apps/app/charts/sub/values.schema.json": _schema("other.json#/x"),
        },
    )
    return [], {}


def _tgz(files: dict[str, str]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


@_case("helm-schema-ref-archive")
def _(repo: Path, tmp: Path, srv: Server) -> tuple[list[str], dict[str, str]]:
    archive = _tgz(
        {
            "sub/Chart.yaml": SUBCHART,
            "sub/templates/cm.yaml": PLAIN_CM.replace("name: cm", "name: sub"),
            "sub/values.schema.json": _schema(f"{srv.url}/schema.json"),
        }
    )
    _chart(repo, {"apps/app/charts/sub-0.1.0.tgz": archive})
    return [], {}


@_case("helm-schema-meta-http")
def _(repo: Path, tmp: Path, srv: Server) -> tuple[list[str], dict[str, str]]:
    schema = {"$schema": f"{srv.url}/meta.json", "type": "object"}
    _chart(repo, {"apps/app/values.schema.json": json.dumps(schema)})
    return [], {}


@_case("helm-file-dependency-dotdot")
def _(repo: Path, tmp: Path, srv: Server) -> tuple[list[str], dict[str, str]]:
    _outside(tmp)
    write_app(
        repo,
        {
            "deep/a/b/c/.keep": "",
            # The decoy where resolve() lands: a harmless chart inside the repository.
            "deep/outside/chart/Chart.yaml": SUBCHART,
            "deep/outside/chart/templates/cm.yaml": PLAIN_CM,
        },
    )
    _link(repo, "apps/link", "../deep/a/b/c")
    chart = CHART + (
        "dependencies:\n- name: sub\n  version: 0.1.0\n"
        "  repository: file://../link/../../../outside/chart\n"
    )
    _chart(repo, {"apps/app/Chart.yaml": chart})
    return [], {}


# -- builders: configuration files --------------------------------------------------------------


@_case("config-symlink-plain")
def _(repo: Path, tmp: Path, srv: Server) -> tuple[list[str], dict[str, str]]:
    config = "plain:\n  exclude: [outside-secret]\n"
    secret = write_app(tmp / "outside", {"lsp-render.yaml": config})
    write_app(repo, {"apps/app/cm.yaml": PLAIN_CM})
    _link(repo, "apps/app/lsp-render.yaml", secret / "lsp-render.yaml")
    return [], {}


@_case("config-symlink-kustomize")
def _(repo: Path, tmp: Path, srv: Server) -> tuple[list[str], dict[str, str]]:
    secret = write_app(tmp / "outside", {"lsp-render.yaml": "kind: kustomize\n"})
    _kustomization(repo, "resources: [cm.yaml]\n", {"apps/app/cm.yaml": PLAIN_CM})
    _link(repo, "apps/app/lsp-render.yaml", secret / "lsp-render.yaml")
    return [], {}


# -- the second defence: engines without network ----------------------------------------------

_PROBE = """
import sys
from lsp_render.core.errors import RenderError
from lsp_render.sources.helm.engine_child import call_engine
try:
    call_engine("socket", "create_connection", (("127.0.0.1", int(sys.argv[1])), 2),
                timeout=10, what="probe")
except RenderError as exc:
    print("refused:", exc.message)
else:
    print("connected")
"""


def test_the_engine_child_has_no_network(tmp_path: Path, server: Server) -> None:
    from lsp_render.core.netns import isolation_prefix

    if not isolation_prefix():
        pytest.skip("this platform allows no network namespace (docs/argocd.md)")
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, str(server.port)],
        env=base_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.stdout.startswith("refused:"), proc.stdout + proc.stderr
    assert server.connections == 0


def test_kustomize_runs_without_network(tmp_path: Path, server: Server) -> None:
    """Were a remote reference to get past the checks, Kustomize would find no network."""
    from lsp_render.core.engines import run_engine
    from lsp_render.core.errors import RenderError
    from lsp_render.core.netns import isolation_prefix

    if not isolation_prefix():
        pytest.skip("this platform allows no network namespace (docs/argocd.md)")
    text = f"resources:\n- {server.url}/x.yaml\n"
    app = write_app(tmp_path / "app", {"kustomization.yaml": text})
    argv = ["kubectl", "kustomize", str(app)]
    with pytest.raises(RenderError, match="kustomize build app"):
        run_engine(argv, what="kustomize build app", timeout=30, isolate=True)
    assert server.connections == 0
    assert "name: fetched" in run_engine(argv, what="kustomize build app", timeout=30)
    assert server.connections > 0  # the same build reaches the server when not isolated


_FORK_PROBE = """
import os, sys
from lsp_render.sources.helm.engine_child import call_engine, stop_engine_child
def engine_pid():
    return call_engine("os", "getpid", (), timeout=30, what="probe")
first = engine_pid()
read, write = os.pipe()
pid = os.fork()
if pid == 0:  # a render-all worker forked from a process that has an engine child
    os.write(write, str(engine_pid()).encode())
    stop_engine_child()  # os._exit skips atexit
    os._exit(0)
os.waitpid(pid, 0)
theirs = int(os.read(read, 64))
print(first, engine_pid(), theirs)
"""


def test_a_forked_worker_gets_its_own_engine_child(tmp_path: Path) -> None:
    """Two processes on one engine child's pipe would mix up their replies (render-all)."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    proc = subprocess.run(
        [sys.executable, "-c", _FORK_PROBE],
        env={**base_env(tmp_path), "TMPDIR": str(scratch)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    first, again, worker = (int(x) for x in proc.stdout.split())
    assert first == again  # the parent keeps its child (render-all keeps charts warm)
    assert worker not in (first, again)
    assert list(scratch.iterdir()) == []
