"""Operator policy: allowed and refused paths, normalisation tricks, Jinja2, hostile env."""

from __future__ import annotations

from pathlib import Path

import pytest

from lsp_render.core.context import AppInfo, RenderRequest
from lsp_render.core.errors import InputError, PolicyError
from lsp_render.secrets.backend import SecretRef, SecretResult
from lsp_render.secrets.policy import enforce, path_forms
from tests.vault_fixtures import Seeded, backend, k8s_env, vault

__all__ = ["vault"]

POLICY = Path(__file__).parent / "data" / "vault" / "policy.yaml"


def _request(
    project: str, name: str = "app", environ: dict[str, str] | None = None
) -> RenderRequest:
    env = {"LSP_RENDER_POLICY": str(POLICY)} if environ is None else environ
    return RenderRequest(
        app_dir=Path("/repo/apps") / name,
        repo_root=Path("/repo"),
        app=AppInfo(name=name, namespace="ns", project=project),
        environ=env,
    )


@pytest.mark.parametrize(
    ("project", "path"),
    [
        ("team-a", "secret/data/team-a/db"),
        ("team-a", "secret/team-a/db"),  # the same KV v2 secret without /data/
        ("team-a", "secret/data/team-a/deep/er/db"),  # * also matches /
        ("team-a", "secret/data/shared/ca"),
        ("legacy", "kv/legacy/x"),
        ("team-z", "secret/data/team-z/db"),  # "*" entry, Jinja2 over app.project
        ("team-z", "secret/apps/app"),  # "*" entry, Jinja2 over app.name
    ],
)
def test_allowed(project: str, path: str) -> None:
    role = enforce([path], _request(project))
    assert role == ("team-a-reader" if project == "team-a" else None)


@pytest.mark.parametrize(
    ("project", "path"),
    [
        ("team-a", "secret/data/team-b/db"),
        ("team-a", "secret/data/shared/ca2"),
        ("team-a", "secret/data/team-a"),  # the folder itself is not under it
        ("team-a", "secret/metadata/team-a/db"),
        ("team-a", "Secret/data/team-a/db"),  # case-sensitive
        ("legacy", "kv/data/legacy/x"),  # another secret on a KV v1 mount: no data/ stripping
        ("legacy", "secret/data/team-l/x"),  # a pattern without data/ is taken literally
        ("team-z", "secret/data/team-a/db"),
        ("team-z", "secret/data/apps/other"),
    ],
)
def test_denied_names_path_and_project(project: str, path: str) -> None:
    with pytest.raises(PolicyError) as caught:
        enforce(
            ["secret/data/team-a/ok", path] if project == "team-a" else [path], _request(project)
        )
    assert path in str(caught.value)
    assert repr(project) in str(caught.value)
    assert caught.value.exit_code == 1


@pytest.mark.parametrize(
    "path",
    [
        "secret/data/team-a/../team-b/db",
        "secret/data/team-a/./db",
        "secret/data/team-a//db",
        "/secret/data/team-a/db",
        "secret/data/team-a/",
        "",
        "secret/data/team-a/%2e%2e/team-b",
        "secret/data/team-a/db?version=1",
        "secret/data/team-a/db#key",
        "secret\\data\\team-a\\db",
        "secret/data/team-a/d\nb",
        "secret/data/team-a/..",
    ],
)
def test_normalisation_tricks_are_refused(path: str) -> None:
    with pytest.raises(PolicyError, match="refused"):
        enforce([path], _request("team-a"))


def test_hostile_project_names_cannot_widen_patterns() -> None:
    with pytest.raises(PolicyError):
        enforce(["secret/data/team-b/db"], _request("*"))
    with pytest.raises(PolicyError):
        enforce(["secret/data/x/db"], _request("[a-z]*"))
    with pytest.raises(PolicyError):
        enforce(["secret/data/team-b/db"], _request(""))  # no project: "secret/data//*"


def test_no_policy_allows_everything() -> None:
    assert enforce(["secret/data/anything", "kv/x"], _request("p", environ={})) is None


def test_project_without_entry_and_no_wildcard(tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text("projects:\n  team-a:\n    paths: ['secret/*']\n    role: r\n")
    request = _request("team-b", environ={"LSP_RENDER_POLICY": str(policy)})
    with pytest.raises(PolicyError, match="team-b"):
        enforce(["secret/x"], request)
    assert enforce([], request) is None
    assert enforce([], _request("team-a", environ={"LSP_RENDER_POLICY": str(policy)})) == "r"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("projects: [1, 2]", "projects"),
        ("projects:\n  a:\n    paths: ['x']\n    roles: r\n", "roles"),
        ("projects:\n  a: {paths: [x\n", "not valid YAML"),
        ("projects:\n  '*':\n    paths: ['{{ app.nope }}']\n", "pattern"),
        ("projects:\n  '*':\n    paths: ['{{ app.__class__.__mro__ }}']\n", "pattern"),
        ("projects:\n  '*':\n    paths: ['{% for %}']\n", "pattern"),
    ],
)
def test_malformed_policy_is_input_error(tmp_path: Path, text: str, message: str) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(text)
    with pytest.raises(InputError, match=message):
        enforce(["secret/data/a/x"], _request("a", environ={"LSP_RENDER_POLICY": str(policy)}))


def test_policy_name_must_be_absolute_and_readable(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="absolute"):
        enforce(["x/y"], _request("a", environ={"LSP_RENDER_POLICY": "policy.yaml"}))
    with pytest.raises(InputError, match="cannot read"):
        enforce(["x/y"], _request("a", environ={"LSP_RENDER_POLICY": str(tmp_path / "none")}))


def test_hostile_argocd_env_policy_is_ignored(tmp_path: Path) -> None:
    permissive = tmp_path / "open.yaml"
    permissive.write_text("projects:\n  '*':\n    paths: ['*']\n    role: admin\n")
    environ = {"LSP_RENDER_POLICY": str(POLICY), "ARGOCD_ENV_LSP_RENDER_POLICY": str(permissive)}
    with pytest.raises(PolicyError):
        enforce(["secret/data/team-b/db"], _request("team-a", environ=environ))
    environ = {"ARGOCD_ENV_LSP_RENDER_POLICY": str(permissive)}
    assert enforce(["secret/data/team-b/db"], _request("team-a", environ=environ)) is None


def test_path_forms() -> None:
    assert path_forms("secret/data/a/b") == ("secret/data/a/b",)
    assert path_forms("secret/a/b") == ("secret/a/b", "secret/data/a/b")
    assert path_forms("secret") == ("secret",)


def _render_secrets(
    paths: list[str], request: RenderRequest, environ: dict[str, str]
) -> dict[SecretRef, SecretResult]:
    """What the resolver does: the policy first, then one backend read with its role."""
    role = enforce(paths, request)
    b = backend(environ, role=role)
    try:
        return b.read([SecretRef(path=p, version=None, kv_version=None) for p in paths])
    finally:
        b.close()


def test_denied_placeholder_fails_before_any_vault_request(vault: Seeded, tmp_path: Path) -> None:
    environ = k8s_env(
        vault,
        tmp_path,
        LSP_RENDER_POLICY=str(POLICY),
        ARGOCD_ENV_VAULT_ADDR="http://127.0.0.1:9",
        ARGOCD_ENV_LSP_RENDER_POLICY="/dev/null",
    )
    request = _request("team-a", environ=environ)
    with pytest.raises(PolicyError):
        _render_secrets(["secret/data/team-a/db", "secret/data/team-b/db"], request, environ)
    assert vault.server.log == []
    results = _render_secrets(["secret/team-a/db"], request, environ)
    assert results[SecretRef("secret/team-a/db", None, None)].data is not None
    # the policy's role logged in
    assert {r.token for r in vault.server.requests("GET")} == {"kubernetes-team-a-reader"}
