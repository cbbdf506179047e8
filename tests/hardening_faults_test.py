"""Faults through the real CLI: Vault's failures, the token cache, engines, Argo CD's deadline.

Vault cases render a plain app holding one placeholder against the test server
(``tests/vaultserver.py``); engine cases use fake ``helm``/``kustomize`` scripts
named by ``LSP_RENDER_HELM`` / ``LSP_RENDER_KUSTOMIZE``.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from lsp_render.secrets.backends.vault_auth import cache_identity
from lsp_render.secrets.backends.vault_config import VaultConfig
from lsp_render.secrets.token_cache import TokenCache
from tests.cli_helpers import Result, base_env, run
from tests.hardening_matrix_test import Case, check_case, write_app
from tests.vault_fixtures import ROLE_ID, SECRET_ID, Seeded, vault, vault_env

__all__ = ["CASES", "vault"]

SECRET = (
    "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n"
    '  password: "<path:secret/app#password>"\n'
)
# KV v2 stated: no mount lookup, so a queued status meets the read itself.
SECRET_V2 = SECRET.replace(
    "name: s\n", "name: s\n  annotations:\n    avp.kubernetes.io/kv-version: '2'\n"
).replace("secret/app", "secret/data/app")
CHART = "apiVersion: v2\nname: app\nversion: 0.1.0\n"
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n"

CASES = [
    Case(
        "vault-unreachable",
        "Vault unreachable (connection refused, after retries)",
        3,
        ("apps/app", "127.0.0.1:", "connection failed"),
    ),
    Case(
        "vault-slow",
        "Vault slower than the request timeout and the budget",
        3,
        ("apps/app", "budget"),
    ),
    Case("vault-sealed", "Vault sealed", 3, ("apps/app", "sealed")),
    Case("vault-standby", "Vault standby without an active node", 3, ("apps/app", "standby")),
    Case("vault-429-then-ok", "Vault 429 then success (retried)", 0),
    Case("vault-5xx-then-ok", "Vault 500, 502, 503 then success (retried)", 0),
    Case(
        "vault-403",
        "Vault 403 (never retried)",
        1,
        ("Secret/s", "secret/data/app", "permission denied"),
    ),
    Case(
        "vault-404",
        "Vault 404 (never retried)",
        1,
        ("Secret/s", "Could not find secrets at path secret/data/app"),
    ),
    Case(
        "token-expires-mid-render",
        "static token expiring mid-render",
        1,
        ("Secret/s", "secret/app", "permission denied"),
    ),
    Case(
        "cached-token-expires-mid-render",
        "cached login token expiring mid-render (one new login)",
        0,
    ),
    Case("token-cache-half-written", "half-written token cache file", 0),
    Case("token-cache-read-only", "read-only token cache directory (render still works)", 0),
    Case("token-cache-full", "full token cache filesystem (render still works)", 0),
    Case(
        "helm-killed", "helm binary killed (SIGKILL)", 1, ("apps/app", "helm template", "SIGKILL")
    ),
    Case(
        "kustomize-killed",
        "kustomize binary killed (SIGKILL)",
        1,
        ("kustomize build apps/app", "killed by SIGKILL"),
    ),
    Case(
        "helm-hangs",
        "helm binary hangs past LSP_RENDER_ENGINE_TIMEOUT (group killed)",
        1,
        ("apps/app", "timed out after 1 s"),
    ),
    Case(
        "kustomize-hangs",
        "kustomize binary hangs past LSP_RENDER_ENGINE_TIMEOUT (group killed)",
        1,
        ("kustomize build apps/app", "did not finish within 1 s"),
    ),
    Case(
        "sigterm-at-deadline",
        "SIGTERM to the render's process group at Argo CD's deadline",
        1,
        ("terminated by SIGTERM", "nothing was printed"),
    ),
]
_BY_ID = {case.id: case for case in CASES}


def _params(*ids: str) -> list[Case]:
    return [_BY_ID[i] for i in ids]


def _repo(tmp_path: Path, files: dict[str, str]) -> Path:
    repo = write_app(tmp_path / "repo", files)
    (repo / ".git").mkdir(exist_ok=True)
    return repo


def _render(repo: Path, env: dict[str, str], *args: str) -> Result:
    return run(["render", "apps/app", *args], cwd=repo, env=env, timeout=60)


def _env(tmp_path: Path, seeded: Seeded, **extra: str) -> dict[str, str]:
    env = {**base_env(seeded.home), **vault_env(seeded), "TMPDIR": str(_tmpdir(tmp_path))}
    env.update(extra)
    return {k: v for k, v in env.items() if v != ""}


def _tmpdir(tmp_path: Path) -> Path:
    path = tmp_path / "scratch"
    path.mkdir(exist_ok=True)
    return path


def _reads(seeded: Seeded) -> list[int]:
    return [r.status for r in seeded.server.requests("GET", "/v1/secret/data/app")]


# -- Vault -------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", _params("vault-unreachable"), ids=lambda c: c.id)
def test_vault_unreachable(case: Case, tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    repo = _repo(tmp_path, {"apps/app/secret.yaml": SECRET})
    env = {
        **base_env(tmp_path / "home"),
        "VAULT_ADDR": f"http://127.0.0.1:{port}",
        "VAULT_TOKEN": "hvs.must-not-leak",
        "LSP_RENDER_VAULT_BACKOFF": "0.01",
        "LSP_RENDER_VAULT_RETRIES": "3",
    }
    result = _render(repo, env)
    check_case(case, result, forbidden=["must-not-leak"])


@pytest.mark.parametrize(
    "case", _params("vault-slow", "vault-sealed", "vault-standby"), ids=lambda c: c.id
)
def test_vault_out_of_service(case: Case, vault: Seeded, tmp_path: Path) -> None:
    repo = _repo(tmp_path, {"apps/app/secret.yaml": SECRET})
    extra = {"LSP_RENDER_VAULT_RETRIES": "3"}
    if case.id == "vault-slow":
        vault.server.latency = 1.0
        extra = {
            "LSP_RENDER_VAULT_TIMEOUT": "0.2",
            "LSP_RENDER_VAULT_BUDGET": "0.6",
            "LSP_RENDER_VAULT_RETRIES": "1000",
        }
    vault.server.sealed = case.id == "vault-sealed"
    vault.server.standby = case.id == "vault-standby"
    result = _render(repo, _env(tmp_path, vault, **extra))
    check_case(case, result, forbidden=[*vault.values, vault.server.root_token])


@pytest.mark.parametrize(
    ("case", "codes"),
    [
        pytest.param(_BY_ID["vault-429-then-ok"], (429, 429), id="vault-429-then-ok"),
        pytest.param(_BY_ID["vault-5xx-then-ok"], (500, 502, 503), id="vault-5xx-then-ok"),
    ],
)
def test_vault_transient_errors_are_retried(
    case: Case, codes: tuple[int, ...], vault: Seeded, tmp_path: Path
) -> None:
    repo = _repo(tmp_path, {"apps/app/secret.yaml": SECRET_V2})
    vault.server.queue_status(*codes)
    result = _render(repo, _env(tmp_path, vault))
    check_case(case, result)
    assert vault.values[2] in result.stdout  # the latest version
    assert _reads(vault) == [*codes, 200]


@pytest.mark.parametrize("case", _params("vault-403", "vault-404"), ids=lambda c: c.id)
def test_vault_client_errors_are_not_retried(case: Case, vault: Seeded, tmp_path: Path) -> None:
    repo = _repo(tmp_path, {"apps/app/secret.yaml": SECRET_V2})
    vault.server.queue_status(int(case.id[-3:]))
    result = _render(repo, _env(tmp_path, vault))
    check_case(case, result, forbidden=vault.values)
    assert _reads(vault) == [int(case.id[-3:])]


def _expire_after_mount_lookup(seeded: Seeded) -> None:
    """Make the token in use expire right after Vault answered the mount lookup."""
    server = seeded.server
    original = server.may_read
    done: list[str] = []

    def may_read(token: object, api_path: str) -> bool:
        allowed = original(token, api_path)  # type: ignore[arg-type]
        if not done:  # the first request (the mount lookup) is answered, later ones refused
            done.append(api_path)
            token.expired = True  # type: ignore[attr-defined]
        return allowed

    server.may_read = may_read  # type: ignore[method-assign]


@pytest.mark.parametrize("case", _params("token-expires-mid-render"), ids=lambda c: c.id)
def test_static_token_expiring_mid_render(case: Case, vault: Seeded, tmp_path: Path) -> None:
    token = vault.server.create_token(["reader"], ttl=3600, name="short")
    repo = _repo(tmp_path, {"apps/app/secret.yaml": SECRET})
    _expire_after_mount_lookup(vault)
    result = _render(repo, _env(tmp_path, vault, VAULT_TOKEN=token))
    check_case(case, result, forbidden=[*vault.values, token])
    assert [r.status for r in vault.server.requests("GET")] == [200, 403]


def _approle_env(tmp_path: Path, seeded: Seeded, **extra: str) -> dict[str, str]:
    return _env(
        tmp_path,
        seeded,
        VAULT_TOKEN="",
        LSP_RENDER_VAULT_AUTH="approle",
        LSP_RENDER_VAULT_ROLE_ID=ROLE_ID,
        LSP_RENDER_VAULT_SECRET_ID=SECRET_ID,
        **extra,
    )


def _cache_file(env: dict[str, str]) -> Path:
    config = VaultConfig.from_environ(env, role=None)
    path = TokenCache(config.cache_dir, cache_identity(config)).path
    assert path is not None
    return path


@pytest.mark.parametrize("case", _params("cached-token-expires-mid-render"), ids=lambda c: c.id)
def test_cached_token_expiring_mid_render(case: Case, vault: Seeded, tmp_path: Path) -> None:
    repo = _repo(tmp_path, {"apps/app/secret.yaml": SECRET})
    env = _approle_env(tmp_path, vault)
    assert _render(repo, env).code == 0  # logs in and caches the token
    assert len(vault.server.logins_served()) == 1
    _expire_after_mount_lookup(vault)
    result = _render(repo, env)
    check_case(case, result)
    assert vault.values[2] in result.stdout
    assert len(vault.server.logins_served()) == 2


@pytest.mark.parametrize("case", _params("token-cache-half-written"), ids=lambda c: c.id)
def test_half_written_token_cache(case: Case, vault: Seeded, tmp_path: Path) -> None:
    repo = _repo(tmp_path, {"apps/app/secret.yaml": SECRET})
    env = _approle_env(tmp_path, vault)
    cache = _cache_file(env)
    cache.parent.mkdir(mode=0o700, parents=True)
    cache.write_text('{"format": 1, "token": "hvs.trunc')
    cache.chmod(0o600)
    result = _render(repo, env)
    check_case(case, result)
    assert len(vault.server.logins_served()) == 1
    assert json.loads(cache.read_text())["token"].startswith("hvs.")  # replaced whole


@pytest.mark.parametrize("case", _params("token-cache-read-only"), ids=lambda c: c.id)
def test_read_only_token_cache_dir(case: Case, vault: Seeded, tmp_path: Path) -> None:
    repo = _repo(tmp_path, {"apps/app/secret.yaml": SECRET})
    if os.geteuid() == 0:
        cache_home = "/sys"  # mkdir there fails even for root, as on a read-only mount
    else:
        (tmp_path / "ro").mkdir(mode=0o500)
        cache_home = str(tmp_path / "ro")
    env = _approle_env(tmp_path, vault, XDG_CACHE_HOME=cache_home)
    for _ in range(2):
        result = _render(repo, env)
        check_case(case, result)
    assert len(vault.server.logins_served()) == 2  # no cache: one login per render


@pytest.mark.parametrize("case", _params("token-cache-full"), ids=lambda c: c.id)
def test_full_token_cache_dir(case: Case, vault: Seeded, tmp_path: Path) -> None:
    repo = _repo(tmp_path, {"apps/app/secret.yaml": SECRET})
    env = _approle_env(tmp_path, vault)

    def no_space() -> None:  # every write to a regular file fails (EFBIG), as on a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))

    proc = subprocess.run(
        [sys.executable, "-m", "lsp_render", "render", "apps/app"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        preexec_fn=no_space,
    )
    check_case(case, Result(proc.returncode, proc.stdout, proc.stderr))
    cache_dir = _cache_file(env).parent
    assert not [p for p in cache_dir.iterdir() if p.stat().st_size]  # nothing half-written


# -- engines -------------------------------------------------------------------------------


def _script(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


KILL_SELF = "kill -9 $$\n"
# Starts a child that outlives the engine unless its whole process group is killed.
HANG = 'sleep 300 &\necho $! > "{pid}"\nwait\n'


def _dead(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state in ("Z", "X")  # a zombie no one reaped is dead too


def _wait_for(
    predicate: Callable[[], bool], seconds: float = 20, what: str = "timed out waiting"
) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def _assert_gone(pid: int) -> None:
    """The killed engine's child is gone: polled, since the kernel reaps it a moment later."""
    _wait_for(lambda: _dead(pid), seconds=10, what=f"the engine's child {pid} outlived the render")


_HELM_APP = {"apps/app/Chart.yaml": CHART, "apps/app/templates/cm.yaml": CM}
_KUSTOMIZE_APP = {"apps/app/kustomization.yaml": "resources: [cm.yaml]\n", "apps/app/cm.yaml": CM}


@pytest.mark.parametrize(
    "case",
    _params("helm-killed", "kustomize-killed", "helm-hangs", "kustomize-hangs"),
    ids=lambda c: c.id,
)
def test_engine_faults(case: Case, tmp_path: Path) -> None:
    engine = "helm" if case.id.startswith("helm") else "kustomize"
    repo = _repo(tmp_path, _HELM_APP if engine == "helm" else _KUSTOMIZE_APP)
    pid_file = tmp_path / "child.pid"
    body = KILL_SELF if case.id.endswith("killed") else HANG.format(pid=pid_file)
    script = _script(tmp_path, engine, body)
    env = {
        **base_env(tmp_path / "home"),
        f"LSP_RENDER_{engine.upper()}": str(script),
        "LSP_RENDER_ENGINE_TIMEOUT": "1",
        "TMPDIR": str(_tmpdir(tmp_path)),
    }
    result = _render(repo, env)
    check_case(case, result)
    if case.id.endswith("hangs"):
        _assert_gone(int(pid_file.read_text()))  # the engine's child went with it
    assert list(_tmpdir(tmp_path).iterdir()) == []


@pytest.mark.parametrize("case", _params("sigterm-at-deadline"), ids=lambda c: c.id)
def test_sigterm_at_argo_cd_deadline(case: Case, tmp_path: Path) -> None:
    """Argo CD's deadline: SIGTERM to the command's process group while an engine hangs."""
    repo = _repo(
        tmp_path,
        {**_HELM_APP, "apps/app/kustomization.yaml": "resources: []\n"},  # hybrid: a scratch copy
    )
    pid_file = tmp_path / "child.pid"
    script = _script(tmp_path, "kustomize", HANG.format(pid=pid_file))
    scratch = _tmpdir(tmp_path)
    env = {
        **base_env(tmp_path / "home"),
        "LSP_RENDER_KUSTOMIZE": str(script),
        "TMPDIR": str(scratch),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "lsp_render", "render", "apps/app"],
        cwd=repo,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as the CMP server starts it
    )
    try:
        _wait_for(lambda: pid_file.exists() and pid_file.read_text().strip() != "")
        assert list(scratch.iterdir()), "the hybrid render should hold a scratch copy by now"
        os.killpg(proc.pid, signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    check_case(case, Result(proc.returncode, out, err))
    _assert_gone(int(pid_file.read_text()))
    assert list(scratch.iterdir()) == []
