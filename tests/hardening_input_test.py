"""Bad input and hostile repositories, through the real CLI: exit code, one line, nothing run.

Each case builds a small repository under ``tmp_path`` (a ``.git`` marks its root),
renders ``apps/app`` and checks the matrix row (``tests/hardening_matrix_test.py``).
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli_helpers import Result, base_env, run
from tests.hardening_matrix_test import Case, check_case, run_limited, write_app

__all__ = ["CASES"]

CHART = "apiVersion: v2\nname: app\nversion: 0.1.0\n"
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  x: {{ .Values.x | quote }}\n"
PLAIN_CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n"
BOMB = "".join(
    f"{chr(97 + i)}: &{chr(97 + i)} [{','.join([f'*{chr(96 + i)}'] * 9)}]\n" for i in range(1, 9)
)
BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + BOMB
MARKER = "lsp-render-pwned"


def _secret(placeholder: str) -> str:
    return (
        f'apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  p: "{placeholder}"\n'
    )


def _helm(extra: dict[str, str] | None = None, template: str = CM) -> dict[str, str]:
    return {"apps/app/Chart.yaml": CHART, "apps/app/templates/cm.yaml": template, **(extra or {})}


def _link(repo: Path, rel: str, target: str | Path) -> None:
    path = repo / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)


def _outside(tmp_path: Path) -> Path:
    """A directory next to the repository with a self-contained kustomization and values."""
    return write_app(
        tmp_path / "outside",
        {
            "base/kustomization.yaml": "resources: [cm.yaml]\n",
            "base/cm.yaml": PLAIN_CM,
            "values.yaml": "x: from-outside\n",
            "chart/Chart.yaml": CHART,
            "chart/templates/cm.yaml": CM,
            "cm.yaml": PLAIN_CM,
        },
    )


# Each builder writes the repository and returns (extra CLI args, extra environment).
Builder = Callable[[Path, Path], tuple[list[str], dict[str, str]]]
_BUILDERS: dict[str, Builder] = {}


def _case(case_id: str) -> Callable[[Builder], Builder]:
    def register(fn: Builder) -> Builder:
        _BUILDERS[case_id] = fn
        return fn

    return register


CASES = [
    # -- bad input ----------------------------------------------------------------------------
    Case(
        "malformed-yaml",
        "malformed YAML in a plain manifest",
        2,
        ("apps/app/cm.yaml:5", "mapping values"),
    ),
    Case("malformed-json", "malformed JSON manifest", 2, ("apps/app/sa.json:3", "invalid JSON")),
    Case(
        "malformed-values", "malformed Helm value file", 2, ("apps/app/values-dev.yaml", "line 1")
    ),
    Case("malformed-config", "malformed lsp-render.yaml", 2, ("apps/app/lsp-render.yaml:3",)),
    Case("empty-app-dir", "empty application directory", 2, ("apps/app", "no application found")),
    Case(
        "unknown-config-key",
        "unknown key in lsp-render.yaml",
        2,
        ("lsp-render.yaml:3", "helm.valuesFiles", "unknown key"),
    ),
    Case(
        "mistyped-config-value",
        "wrong type in lsp-render.yaml",
        2,
        ("lsp-render.yaml:2", "helm.includeCRDs"),
    ),
    Case(
        "unknown-repo-config-key",
        "unknown key in lsp-render-repo.yaml",
        2,
        ("lsp-render-repo.yaml:1", "aplications"),
    ),
    Case(
        "helm-template-error",
        "Helm template error (Helm's message kept)",
        1,
        ("apps/app", "nil pointer evaluating"),
    ),
    Case(
        "helm-required-value", "`required` value missing", 1, ("apps/app", "image.tag is required")
    ),
    Case(
        "kustomize-error",
        "Kustomize error (missing resource)",
        1,
        ("kustomize build apps/app", "missing.yaml"),
    ),
    Case(
        "plain-not-an-object",
        "plain document that is not a Kubernetes object",
        2,
        ("apps/app/notes.yaml:1", "not a Kubernetes object"),
    ),
    Case(
        "json-not-an-object",
        "JSON array item that is not a Kubernetes object",
        2,
        ("apps/app/list.json", "not a Kubernetes object"),
    ),
    Case(
        "helm-not-an-object",
        "Helm output document that is not a Kubernetes object",
        1,
        ("app/templates/cm.yaml", "not a Kubernetes object"),
    ),
    Case(
        "helm-json-not-an-object",
        "Helm output document in JSON after its # Source: line, without a kind",
        1,
        ("app/templates/cm.yaml", "not a Kubernetes object"),
    ),
    Case("helm-json-object", "Helm output documents in JSON and flow YAML (rendered)", 0),
    Case(
        "output-above-grpc-limit",
        "output above ARGOCD_GRPC_MAX_SIZE_MB",
        1,
        ("apps/app", "ARGOCD_GRPC_MAX_SIZE_MB", "more than Argo CD accepts"),
    ),
    Case("output-below-grpc-limit", "output just below ARGOCD_GRPC_MAX_SIZE_MB", 0),
    Case(
        "output-above-100-mib",
        "101 MiB output with Argo CD's default 100 MiB limit",
        1,
        ("apps/app", "101.0 MiB", "(100 MiB, ARGOCD_GRPC_MAX_SIZE_MB)"),
    ),
    Case("output-below-100-mib", "99 MiB output with Argo CD's default 100 MiB limit", 0),
    Case(
        "invalid-modifier",
        "unknown placeholder modifier",
        2,
        ("Secret/s", "invalid modifier 'frobnicate'"),
    ),
    Case("invalid-modifier-argument", "modifier with a bad argument", 2, ("Secret/s", "indent")),
    Case(
        "malformed-placeholder",
        "placeholder with an empty key",
        2,
        ("Secret/s", "malformed placeholder", "stringData.p"),
    ),
    Case(
        "malformed-jsonpath", "placeholder with an unclosed jsonPath", 2, ("Secret/s", "jsonPath")
    ),
    Case(
        "secrets-file-fifo",
        "--secrets-file is a FIFO (no hang)",
        2,
        ("--secrets-file", "not a regular file"),
    ),
    # -- alias bombs (run under RLIMIT_CPU and RLIMIT_AS, peak RSS measured) -------------------
    Case(
        "alias-bomb-plain",
        "YAML alias bomb in a plain manifest",
        2,
        ("apps/app/bomb.yaml:1", "alias bomb"),
    ),
    Case(
        "alias-bomb-values",
        "YAML alias bomb in a Helm value file",
        2,
        ("apps/app/values-dev.yaml", "excessive aliasing"),
    ),
    Case(
        "alias-bomb-config",
        "YAML alias bomb in lsp-render.yaml",
        2,
        ("apps/app/lsp-render.yaml", "aliases expand"),
    ),
    # -- paths that leave the repository -------------------------------------------------------
    Case(
        "chart-outside",
        "helm.chart outside the repository",
        2,
        ("lsp-render.yaml:2", "helm.chart", "leaves the repository"),
    ),
    Case(
        "value-file-outside",
        "helm.valueFiles entry outside the repository",
        2,
        ("lsp-render.yaml:2", "helm.valueFiles[0]", "leaves the repository"),
    ),
    Case(
        "values-parameter-outside",
        "values-files plugin parameter outside the repository",
        2,
        ("plugin parameter values-files", "leaves the repository"),
    ),
    Case(
        "kustomize-path-outside",
        "kustomize.path outside the repository",
        2,
        ("kustomize.path", "leaves the repository"),
    ),
    Case(
        "kustomize-resource-outside",
        "kustomization resource directory outside the repository",
        2,
        ("apps/app/kustomization.yaml", "resources entry", "leaves the repository"),
    ),
    Case(
        "kustomize-component-outside",
        "kustomization component outside the repository",
        2,
        ("apps/app/kustomization.yaml", "components entry", "leaves the repository"),
    ),
    Case(
        "hybrid-resource-outside",
        "hybrid last-mile resource outside the repository",
        2,
        ("apps/app/kustomization.yaml", "leaves the repository"),
    ),
    Case(
        "repo-datafile-outside",
        "lsp-render-repo.yaml dataFile outside the repository",
        2,
        ("environments.dataFile", "leaves the repository"),
    ),
    Case(
        "env-name-traversal",
        "environment name with path segments (ARGOCD_ENV_ENV)",
        2,
        ("environment name", "not allowed"),
    ),
    Case(
        "policy-path-traversal",
        "placeholder path with '..' under an operator policy",
        1,
        ("secret/data/team-a/../team-b/db", "'..'"),
    ),
    # -- symlinks that leave the repository -----------------------------------------------------
    Case(
        "symlink-plain",
        "plain manifest symlinked outside",
        2,
        ("apps/app/cm.yaml", "symlink leaves the repository"),
    ),
    Case(
        "symlink-chart-dir",
        "chart directory symlinked outside",
        2,
        ("helm.chart", "leaves the repository"),
    ),
    Case(
        "symlink-chart-template",
        "chart template symlinked outside",
        2,
        ("app/templates/cm.yaml", "symbolic link leaves the repository"),
    ),
    Case(
        "symlink-values",
        "value file symlinked outside",
        2,
        ("'values.yaml'", "leaves the repository"),
    ),
    Case(
        "symlink-kustomize-dir",
        "kustomize.path symlinked outside",
        2,
        ("kustomize.path", "leaves the repository"),
    ),
    Case(
        "symlink-kustomize-resource",
        "kustomization resource symlinked outside",
        2,
        ("resources entry 'base'", "leaves the repository"),
    ),
    Case(
        "symlink-kustomization-file",
        "kustomization file symlinked outside",
        2,
        ("apps/app/kustomization.yaml", "symlink leaves the repository"),
    ),
    Case(
        "symlink-app-dir",
        "application directory symlinked outside",
        2,
        ("application directory leaves the repository",),
    ),
    # -- FIFOs and devices ---------------------------------------------------------------------
    Case(
        "values-fifo",
        "value file that is a FIFO (no hang)",
        2,
        ("apps/app/values.yaml", "not a regular file"),
    ),
    Case(
        "values-dev-zero",
        "value file symlinked to /dev/zero (no hang)",
        2,
        ("'values.yaml'", "leaves the repository"),
    ),
    Case(
        "plain-fifo",
        "plain manifest that is a FIFO (no hang)",
        2,
        ("apps/app/cm.yaml", "not a regular file"),
    ),
    Case(
        "config-fifo",
        "lsp-render.yaml that is a FIFO (no hang)",
        2,
        ("apps/app/lsp-render.yaml", "not a regular file"),
    ),
    # -- injection -------------------------------------------------------------------------------
    Case(
        "injection-helm-parameters",
        "shell syntax in helm-parameters, --set and helm.set; value files named -f.yaml",
        0,
    ),
    Case("injection-file-names", "files named --help.yaml and -f.yaml (plain and kustomize)", 0),
    Case("injection-app-dir-name", "application directory named -f (run from its cwd)", 0),
    Case(
        "injection-placeholder",
        "shell syntax in a placeholder's path and key (data, not a command)",
        1,
        ("Could not find secrets at path secret/data/$(touch",),
    ),
    Case(
        "injection-release-name",
        "release-name parameter '--debug' (never a flag)",
        2,
        ("invalid release name '--debug'",),
    ),
    Case(
        "jinja-python-internals",
        "Jinja2 reaching Python internals (__class__)",
        2,
        ("lsp-render.yaml:2", "helm.releaseName", "refused by the sandbox"),
    ),
    Case(
        "jinja-globals",
        "Jinja2 reaching module globals (cycler.__init__.__globals__)",
        2,
        ("lsp-render.yaml:2", "refused by the sandbox"),
    ),
    Case(
        "jinja-include-file",
        "Jinja2 {% include '/etc/passwd' %}",
        2,
        ("lsp-render.yaml:2", "template error"),
    ),
    Case(
        "jinja-huge-string",
        "Jinja2 building a huge string ('a' * 10**9)",
        2,
        ("lsp-render.yaml:2", "refused by the sandbox"),
    ),
]
_BY_ID = {case.id: case for case in CASES}


def _setup(tmp_path: Path, case: Case) -> tuple[Path, list[str], dict[str, str]]:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "apps" / "app").mkdir(parents=True)
    args, env = _BUILDERS[case.id](repo, tmp_path)
    return repo, args, env


_OWN_TESTS = ("injection-helm-parameters", "injection-file-names", "injection-app-dir-name")
FAST = [c for c in CASES if not c.id.startswith("alias-bomb") and c.id not in _OWN_TESTS]


@pytest.mark.parametrize("case", FAST, ids=lambda c: c.id)
def test_bad_input(case: Case, tmp_path: Path) -> None:
    repo, args, env = _setup(tmp_path, case)
    environ = {**base_env(tmp_path / "home"), **env}
    app = repo / "apps" / "app"
    size = sum(p.stat().st_size for p in app.glob("*") if p.is_file()) if app.is_dir() else 0
    try:
        result = run(["render", "apps/app", *args], cwd=repo, env=environ, timeout=60)
    finally:
        for path in (repo / "apps" / "app").glob("*.yaml"):
            if path.is_file() and path.stat().st_size > (1 << 24):
                path.unlink()  # pytest keeps the last runs' directories: no 100 MiB files
    if case.code == 0:
        assert len(result.stdout) >= size  # the whole stream, nothing cut
    check_case(case, result)
    assert not list(tmp_path.glob(f"**/{MARKER}*"))


BOMBS = [c for c in CASES if c.id.startswith("alias-bomb")]


@pytest.mark.parametrize("case", BOMBS, ids=lambda c: c.id)
def test_alias_bomb(case: Case, tmp_path: Path) -> None:
    repo, args, env = _setup(tmp_path, case)
    environ = {**base_env(tmp_path / "home"), **env}
    # Go's runtime (the embedded Helm engine) reserves more address space than a cap allows.
    memory = None if case.id == "alias-bomb-values" else 1024
    result = run_limited(["render", "apps/app", *args], cwd=repo, env=environ, memory_mb=memory)
    check_case(case, result)
    assert result.max_rss_mb < 400, result.max_rss_mb


# -- builders: bad input ---------------------------------------------------------------------


@_case("malformed-yaml")
def _(repo: Path, tmp: Path) -> tuple[list[str], dict[str, str]]:
    write_app(
        repo,
        {"apps/app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n   bad: [\n"},
    )
    return [], {}


@_case("malformed-json")
def _(repo: Path, tmp: Path) -> tuple[list[str], dict[str, str]]:
    write_app(
        repo,
        {"apps/app/sa.json": '{"apiVersion": "v1",\n "kind": "ServiceAccount",\n "metadata": }\n'},
    )
    return [], {}


@_case("malformed-values")
def _(repo: Path, tmp: Path) -> tuple[list[str], dict[str, str]]:
    write_app(
        repo,
        _helm({"apps/app/values.yaml": "x: 1\n", "apps/app/values-dev.yaml": "x: [1, 2\ny: 3\n"}),
    )
    return ["--env", "dev"], {}


@_case("malformed-config")
def _(repo: Path, tmp: Path) -> tuple[list[str], dict[str, str]]:
    write_app(repo, _helm({"apps/app/lsp-render.yaml": "helm:\n  chart: [.\n"}))
    return [], {}


@_case("empty-app-dir")
def _(repo: Path, tmp: Path) -> tuple[list[str], dict[str, str]]:
    write_app(repo, {"apps/app/README.md": "nothing to render\n"})
    return [], {}


@_case("unknown-config-key")
def _(repo: Path, tmp: Path) -> tuple[list[str], dict[str, str]]:
    write_app(
        repo, _helm({"apps/app/lsp-render.yaml": "helm:\n  chart: .\n  valuesFiles: [a.yaml]\n"})
    )
    return [], {}


@_case("mistyped-config-value")
def _(repo: Path, tmp: Path) -> tuple[list[str], dict[str, str]]:
    write_app(repo, _helm({"apps/app/lsp-render.yaml": "helm:\n  includeCRDs: 'yes'\n"}))
    return [], {}


@_case("unknown-repo-config-key")
def _(repo: Path, tmp: Path) -> tuple[list[str], dict[str, str]]:
    write_app(
        repo, {"lsp-render-repo.yaml": "aplications: ['apps/*']\n", "apps/app/cm.yaml": PLAIN_CM}
    )
    return ["--env", "dev"], {}


@_case("helm-template-error")
def _(repo: Path, tmp: Path) -> tuple[list[str], dict[str, str]]:
    write_app(repo, _helm(template=PLAIN_CM + "data:\n  x: {{ .Values.a.b.c }}\n"))
    return [], {}


@_case("helm-required-value")
def _(repo: Path, tmp: Path) -> tuple[list[str], dict[str, str]]:
    tpl = PLAIN_CM + 'data:\n  tag: {{ required "image.tag is required" .Values.tag }}\n'
    write_app(repo, _helm(template=tpl))
    return [], {}


@_case("kustomize-error")
def _(repo: Path, tmp: Path) -> tuple[list[str], dict[str, str]]:
    write_app(repo, {"apps/app/kustomization.yaml": "resources: [missing.yaml]\n"})
    return [], {}


@_case("plain-not-an-object")
def _(repo: Path, tmp: Path) -> tuple[list[str], dict[str, str]]:
    write_app(repo, {"apps/app/cm.yaml": PLAIN_CM, "apps/app/notes.yaml": "owner: team-a\n"})
    return [], {}


@_case("json-not-an-object")
def _(repo: Path, tmp: Path) -> tuple[list[str], dict[str, str]]:
    items = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}, ["x"]]
    write_app(repo, {"apps/app/list.json": json.dumps(items)})
    return [], {}


@_case("helm-not-an-object")
def _(repo: Path, tmp: Path) -> tuple[list[str], dict[str, str]]:
    write_app(repo, _helm(template="owner: {{ .Release.Name }}\n"))
    return [], {}


@_case("helm-json-not-an-object")
def _(repo: Path, tmp: Path) -> tuple[list[str], dict[str, str]]:
    write_app(repo, _helm(template='{"apiVersion": "v1", "owner": "{{ .Release.Name }}"}\n'))
    return [], {}


@_case("helm-json-object")
def _(repo: Path, tmp: Path) -> tuple[list[str], dict[str, str]]:
    # helm template prints "# Source: ..." before each: the document starts with a comment
    json_cm = '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "j"}}\n'
    flow_cm = "{apiVersion: v1, kind: ConfigMap, metadata: {name: f}}\n"
    write_app(repo, _helm({"apps/app/templates/flow.yaml": flow_cm}, template=json_cm))
    return [], {}


def _big_configmap(size: int) -> str:
    return PLAIN_CM + "data:\n  blob: " + "x" * size + "\n"


@_case("output-above-grpc-limit")
def _(repo: Path, tmp: Path) -> tuple[list[str], dict[str, str]]:
    write_app(repo, {"apps/app/cm.yaml": _big_configmap(1 << 20)})
    return [], {"ARGOCD_GRPC_MAX_SIZE_MB": "1"}


@_case("output-above-100-mib")
def _(repo: Path, tmp: Path) -> tuple[list[str], dict[str, str]]:
    write_app(repo, {"apps/app/cm.yaml": _big_configmap(101 << 20)})
    return [], {}


@_case("output-below-100-mib")
def _(repo: Path, tmp: Path) -> tuple[list[str], dict[str, str]]:
    write_app(repo, {"apps/app/cm.yaml": _big_configmap(99 << 20)})
    return [], {}


@_case("output-below-grpc-limit")
def _(repo: Path, tmp: Path) -> tuple[list[str], dict[str, str]]:
    write_app(repo, {"apps/app/cm.yaml": _big_configmap((1 << 20) - 200)})
    return [], {"ARGOCD_GRPC_MAX_SIZE_MB": "1"}


def _secrets_file(tmp: Path) -> Path:
    return (
        write_app(tmp, {"secrets.yaml": "secret/data/app:\n  password: S3CR3T-input\n"})
        / "secrets.yaml"
    )


def _placeholder_case(repo: Path, tmp: Path, placeholder: str) -> tuple[list[str], dict[str, str]]:
    write_app(repo, {"apps/app/secret.yaml": _secret(placeholder)})
    return ["--secrets-file", str(_secrets_file(tmp))], {}


@_case("invalid-modifier")
def _(repo: Path, tmp: Path) -> tuple[list[str], dict[str, str]]:
    return _placeholder_case(repo, tmp, "<path:secret/data/app#password | frobnicate>")


@_case("invalid-modifier-argument")
def _(repo: Path, tmp: Path) -> tuple[list[str], dict[str, str]]:
    return _placeholder_case(repo, tmp, "<path:secret/data/app#password | indent x>")


@_case("malformed-placeholder")
def _(repo: Path, tmp: Path) -> tuple[list[str], dict[str, str]]:
    return _placeholder_case(repo, tmp, "<path:secret/data/app#>")


@_case("malformed-jsonpath")
def _(repo: Path, tmp: Path) -> tuple[list[str], dict[str, str]]:
    return _placeholder_case(repo, tmp, "<path:secret/data/app#password | jsonPath {.a>")


@_case("secrets-file-fifo")
def _(repo: Path, tmp: Path) -> tuple[list[str], dict[str, str]]:
    write_app(repo, {"apps/app/secret.yaml": _secret("<path:secret/data/app#password>")})
    os.mkfifo(tmp / "secrets.fifo")
    return ["--secrets-file", str(tmp / "secrets.fifo")], {}


# -- builders: alias bombs -------------------------------------------------------------------


@_case("alias-bomb-plain")
def _(repo: Path, tmp: Path) -> tuple[list[str], dict[str, str]]:
    write_app(repo, {"apps/app/bomb.yaml": PLAIN_CM + BOMB})
    return [], {}


@_case("alias-bomb-values")
def _(repo: Path, tmp: Path) -> tuple[list[str], dict[str, str]]:
    write_app(repo, _helm({"apps/app/values.yaml": "x: 1\n", "apps/app/values-dev.yaml": BOMB}))
    return ["--env", "dev"], {}


@_case("alias-bomb-config")
def _(repo: Path, tmp: Path) -> tuple[list[str], dict[str, str]]:
    write_app(repo, _helm({"apps/app/lsp-render.yaml": "helm:\n  values:\n" + _indent(BOMB)}))
    return [], {}


def _indent(text: str) -> str:
    return "".join(f"    {line}\n" for line in text.splitlines())


# -- builders: paths outside the repository --------------------------------------------------


@_case("chart-outside")
def _(repo: Path, tmp: Path) -> tuple[list[str], dict[str, str]]:
    _outside(tmp)
    write_app(repo, {"apps/app/lsp-render.yaml": "helm:\n  chart: ../../../outside/chart\n"})
    return [], {}


@_case("value-file-outside")
def _(repo: Path, tmp: Path) -> tuple[list[str], dict[str, str]]:
    _outside(tmp)
    write_app(
        repo,
        _helm(
            {"apps/app/lsp-render.yaml": "helm:\n  valueFiles: [../../../outside/values.yaml]\n"}
        ),
    )
    return [], {}


@_case("values-parameter-outside")
def _(repo: Path, tmp: Path) -> tuple[list[str], dict[str, str]]:
    _outside(tmp)
    write_app(repo, _helm())
    params = [{"name": "values-files", "array": ["../../../outside/values.yaml"]}]
    return [], {"ARGOCD_APP_PARAMETERS": json.dumps(params)}


@_case("kustomize-path-outside")
def _(repo: Path, tmp: Path) -> tuple[list[str], dict[str, str]]:
    _outside(tmp)
    write_app(repo, {"apps/app/lsp-render.yaml": "kustomize:\n  path: ../../../outside/base\n"})
    return [], {}


@_case("kustomize-resource-outside")
def _(repo: Path, tmp: Path) -> tuple[list[str], dict[str, str]]:
    _outside(tmp)
    write_app(repo, {"apps/app/kustomization.yaml": "resources: [../../../outside/base]\n"})
    return [], {}


@_case("kustomize-component-outside")
def _(repo: Path, tmp: Path) -> tuple[list[str], dict[str, str]]:
    _outside(tmp)
    write_app(repo, {"apps/app/kustomization.yaml": f"components: [{tmp / 'outside' / 'base'}]\n"})
    return [], {}


@_case("hybrid-resource-outside")
def _(repo: Path, tmp: Path) -> tuple[list[str], dict[str, str]]:
    _outside(tmp)
    write_app(repo, _helm({"apps/app/kustomization.yaml": "resources: [../../../outside/base]\n"}))
    return [], {}


@_case("repo-datafile-outside")
def _(repo: Path, tmp: Path) -> tuple[list[str], dict[str, str]]:
    _outside(tmp)
    config = (
        "applications: ['apps/*']\nenvironments:\n  dataFile: '../outside/values-{{ env }}.yaml'\n"
    )
    write_app(repo, {"lsp-render-repo.yaml": config, "apps/app/cm.yaml": PLAIN_CM})
    (tmp / "outside" / "values-dev.yaml").write_text("fqdn: x\n")
    return ["--env", "dev"], {}


@_case("env-name-traversal")
def _(repo: Path, tmp: Path) -> tuple[list[str], dict[str, str]]:
    write_app(repo, _helm({"apps/app/values.yaml": "x: 1\n"}))
    return [], {"ARGOCD_ENV_ENV": "../../../outside/x"}


@_case("policy-path-traversal")
def _(repo: Path, tmp: Path) -> tuple[list[str], dict[str, str]]:
    policy = write_app(
        tmp, {"policy.yaml": "projects:\n  team-a:\n    paths: ['secret/data/team-a/*']\n"}
    )
    write_app(
        repo, {"apps/app/secret.yaml": _secret("<path:secret/data/team-a/../team-b/db#password>")}
    )
    env = {"LSP_RENDER_POLICY": str(policy / "policy.yaml"), "ARGOCD_APP_PROJECT_NAME": "team-a"}
    return ["--secrets-file", str(_secrets_file(tmp))], env


# -- builders: symlinks ----------------------------------------------------------------------


@_case("symlink-plain")
def _(repo: Path, tmp: Path) -> tuple[list[str], dict[str, str]]:
    _link(repo, "apps/app/cm.yaml", _outside(tmp) / "cm.yaml")
    return [], {}


@_case("symlink-chart-dir")
def _(repo: Path, tmp: Path) -> tuple[list[str], dict[str, str]]:
    _link(repo, "apps/app/chart", _outside(tmp) / "chart")
    write_app(repo, {"apps/app/lsp-render.yaml": "helm:\n  chart: chart\n"})
    return [], {}


@_case("symlink-chart-template")
def _(repo: Path, tmp: Path) -> tuple[list[str], dict[str, str]]:
    write_app(repo, {"apps/app/Chart.yaml": CHART})
    _link(repo, "apps/app/templates/cm.yaml", _outside(tmp) / "chart" / "templates" / "cm.yaml")
    return [], {}


@_case("symlink-values")
def _(repo: Path, tmp: Path) -> tuple[list[str], dict[str, str]]:
    write_app(repo, _helm({"apps/app/values-dev.yaml": "x: 1\n"}))
    _link(repo, "apps/app/values.yaml", _outside(tmp) / "values.yaml")
    return ["--env", "dev"], {}


@_case("symlink-kustomize-dir")
def _(repo: Path, tmp: Path) -> tuple[list[str], dict[str, str]]:
    _link(repo, "apps/app/last-mile", _outside(tmp) / "base")
    write_app(repo, {"apps/app/lsp-render.yaml": "kustomize:\n  path: last-mile\n"})
    return [], {}


@_case("symlink-kustomize-resource")
def _(repo: Path, tmp: Path) -> tuple[list[str], dict[str, str]]:
    _link(repo, "apps/app/base", _outside(tmp) / "base")
    write_app(repo, {"apps/app/kustomization.yaml": "resources: [base]\n"})
    return [], {}


@_case("symlink-kustomization-file")
def _(repo: Path, tmp: Path) -> tuple[list[str], dict[str, str]]:
    _link(repo, "apps/app/kustomization.yaml", _outside(tmp) / "base" / "kustomization.yaml")
    write_app(repo, {"apps/app/cm.yaml": PLAIN_CM})
    return [], {}


@_case("symlink-app-dir")
def _(repo: Path, tmp: Path) -> tuple[list[str], dict[str, str]]:
    (repo / "apps" / "app").rmdir()
    _link(repo, "apps/app", _outside(tmp) / "base")
    return [], {}


# -- builders: FIFOs and devices ---------------------------------------------------------------


@_case("values-fifo")
def _(repo: Path, tmp: Path) -> tuple[list[str], dict[str, str]]:
    write_app(repo, _helm({"apps/app/values-dev.yaml": "x: 1\n"}))
    os.mkfifo(repo / "apps/app/values.yaml")
    return ["--env", "dev"], {}


@_case("values-dev-zero")
def _(repo: Path, tmp: Path) -> tuple[list[str], dict[str, str]]:
    write_app(repo, _helm({"apps/app/values-dev.yaml": "x: 1\n"}))
    _link(repo, "apps/app/values.yaml", "/dev/zero")
    return ["--env", "dev"], {}


@_case("plain-fifo")
def _(repo: Path, tmp: Path) -> tuple[list[str], dict[str, str]]:
    write_app(repo, {"apps/app/a.yaml": PLAIN_CM})
    os.mkfifo(repo / "apps/app/cm.yaml")
    return [], {}


@_case("config-fifo")
def _(repo: Path, tmp: Path) -> tuple[list[str], dict[str, str]]:
    write_app(repo, _helm())
    os.mkfifo(repo / "apps/app/lsp-render.yaml")
    return [], {}


# -- builders: injection and Jinja2 ------------------------------------------------------------

INJECTIONS = [
    f"$(touch {{tmp}}/{MARKER}-1)",
    f"`touch {{tmp}}/{MARKER}-2`",
    f"x; touch {{tmp}}/{MARKER}-3",
    f"x && touch {{tmp}}/{MARKER}-4 | cat",
]


@_case("injection-placeholder")
def _(repo: Path, tmp: Path) -> tuple[list[str], dict[str, str]]:
    placeholder = f"<path:secret/data/$(touch {tmp}/{MARKER});`id`#k $(id)>"
    return _placeholder_case(repo, tmp, placeholder)


@_case("injection-release-name")
def _(repo: Path, tmp: Path) -> tuple[list[str], dict[str, str]]:
    write_app(repo, _helm())
    return [], {
        "ARGOCD_APP_PARAMETERS": json.dumps([{"name": "release-name", "string": "--debug"}])
    }


def _jinja(repo: Path, expression: str) -> tuple[list[str], dict[str, str]]:
    config = "helm:\n  releaseName: " + json.dumps(expression) + "\n"
    write_app(repo, _helm({"apps/app/lsp-render.yaml": config}))
    return [], {}


@_case("jinja-python-internals")
def _(repo: Path, tmp: Path) -> tuple[list[str], dict[str, str]]:
    return _jinja(repo, "{{ app.__class__.__mro__[1].__subclasses__() }}")


@_case("jinja-globals")
def _(repo: Path, tmp: Path) -> tuple[list[str], dict[str, str]]:
    return _jinja(repo, f"{{{{ cycler.__init__.__globals__.os.system('touch {tmp}/{MARKER}') }}}}")


@_case("jinja-include-file")
def _(repo: Path, tmp: Path) -> tuple[list[str], dict[str, str]]:
    return _jinja(repo, "{% include '/etc/passwd' %}")


@_case("jinja-huge-string")
def _(repo: Path, tmp: Path) -> tuple[list[str], dict[str, str]]:
    return _jinja(repo, "{{ 'a' * 10 ** 9 }}")


# -- injection: the commands engines see -------------------------------------------------------


def _recording_engine(tmp: Path, name: str, output: str) -> Path:
    """A fake engine that records its argv as JSON and prints ``output``."""
    log = tmp / f"{name}.argv"
    script = tmp / f"fake-{name}"
    script.write_text(
        f"#!{os.environ.get('PYTHON', '/usr/bin/env python3')}\n"
        "import json, sys\n"
        f"open({str(log)!r}, 'a').write(json.dumps(sys.argv) + '\\n')\n"
        f"sys.stdout.write({output!r})\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def _argvs(tmp: Path, name: str) -> list[list[str]]:
    log = tmp / f"{name}.argv"
    return [json.loads(line) for line in log.read_text().splitlines()]


@pytest.mark.parametrize("case", [_BY_ID["injection-helm-parameters"]], ids=lambda c: c.id)
def test_shell_syntax_is_data(case: Case, tmp_path: Path) -> None:
    values = [text.format(tmp=tmp_path) for text in INJECTIONS]
    config = {"helm": {"set": {"cfg": values[1]}, "valueFiles": ["-f.yaml", "--help.yaml"]}}
    repo = write_app(
        tmp_path / "repo",
        _helm(
            {
                "apps/app/lsp-render.yaml": json.dumps(config),
                "apps/app/-f.yaml": "y: 1\n",
                "apps/app/--help.yaml": "z: 2\n",
            }
        ),
    )
    (repo / ".git").mkdir()
    params = [{"name": "helm-parameters", "map": {f"k{i}": v for i, v in enumerate(values)}}]
    env = {**base_env(tmp_path / "home"), "ARGOCD_APP_PARAMETERS": json.dumps(params)}
    sets = [f"x={values[0]}"]
    # The embedded engine renders the text as data ...
    result = run(["render", "apps/app", "--set", sets[0]], cwd=repo, env=env)
    check_case(case, result)
    assert values[0] in result.stdout
    # ... and the binary engine gets each one as a single argument, no shell between.
    helm = _recording_engine(tmp_path, "helm", PLAIN_CM)
    result = run(
        ["render", "apps/app", "--set", sets[0]],
        cwd=repo,
        env={**env, "LSP_RENDER_HELM": str(helm)},
    )
    assert result.code == 0, result.stderr
    [argv] = _argvs(tmp_path, "helm")
    for i, value in enumerate(values):
        assert f"k{i}={value}" in argv
    assert sets[0] in argv
    assert f"cfg={values[1]}" in argv
    app = repo / "apps" / "app"
    assert ["-f", str(app / "-f.yaml"), "-f", str(app / "--help.yaml")] == [
        a for i, a in enumerate(argv) if a == "-f" or (i and argv[i - 1] == "-f")
    ]
    assert not list(tmp_path.glob(f"{MARKER}*"))


@pytest.mark.parametrize("case", [_BY_ID["injection-file-names"]], ids=lambda c: c.id)
def test_file_names_are_not_flags(case: Case, tmp_path: Path) -> None:
    repo = write_app(
        tmp_path / "repo",
        {
            "apps/plain/--help.yaml": PLAIN_CM,
            "apps/plain/-f.yaml": PLAIN_CM.replace("name: cm", "name: f"),
            "apps/app/kustomization.yaml": "resources: [--help.yaml, -f.yaml]\n",
            "apps/app/--help.yaml": PLAIN_CM,
            "apps/app/-f.yaml": PLAIN_CM.replace("name: cm", "name: f"),
        },
    )
    (repo / ".git").mkdir()
    env = base_env(tmp_path / "home")
    plain = run(["render", "apps/plain"], cwd=repo, env=env)
    assert plain.code == 0, plain.stderr
    assert [o["metadata"]["name"] for o in plain.objects()] == ["cm", "f"]  # type: ignore[index]
    result = run(["render", "apps/app"], cwd=repo, env=env)
    check_case(case, result)
    assert sorted(o["metadata"]["name"] for o in result.objects()) == ["cm", "f"]  # type: ignore[index]
    kustomize = _recording_engine(tmp_path, "kustomize", PLAIN_CM)
    run(["render", "apps/app"], cwd=repo, env={**env, "LSP_RENDER_KUSTOMIZE": str(kustomize)})
    [argv] = _argvs(tmp_path, "kustomize")
    assert argv[1:] == ["build", str(repo / "apps" / "app")]


@pytest.mark.parametrize("case", [_BY_ID["injection-app-dir-name"]], ids=lambda c: c.id)
def test_app_dir_named_like_a_flag(case: Case, tmp_path: Path) -> None:
    repo = write_app(
        tmp_path / "repo", {"apps/-f/Chart.yaml": CHART, "apps/-f/templates/cm.yaml": CM}
    )
    (repo / ".git").mkdir()
    helm = _recording_engine(tmp_path, "helm", PLAIN_CM)
    env = {**base_env(tmp_path / "home"), "LSP_RENDER_HELM": str(helm), "ARGOCD_APP_NAME": "app"}
    result: Result = run(["render"], cwd=repo / "apps" / "-f", env=env)
    check_case(case, result)
    [argv] = _argvs(tmp_path, "helm")
    assert argv[1:4] == ["template", "app", str(repo / "apps" / "-f")]
