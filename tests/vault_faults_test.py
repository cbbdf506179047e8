"""Faults: dropped connections, 429/5xx, sealed and standby Vaults, the budget, and leaks."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import pytest

from lsp_render.core.errors import BackendUnavailableError, LspRenderError
from tests.vault_fixtures import (
    PASSWORD,
    SECRET_ID,
    Seeded,
    backend,
    k8s_env,
    ref,
    vault,
    vault_env,
)

__all__ = ["vault"]

APP = ref("secret/data/app", kv=2)


def _reads(seeded: Seeded) -> list[int]:
    return [r.status for r in seeded.server.requests("GET", "/v1/secret/data/app")]


def test_dropped_connections_are_retried(vault: Seeded) -> None:
    vault.server.drop_next(2)
    result = backend(vault_env(vault)).read([APP])[APP]
    assert result.data is not None
    assert _reads(vault) == [0, 0, 200]


@pytest.mark.parametrize("codes", [(429,), (500,), (502,), (503,), (500, 502, 503, 429)])
def test_transient_statuses_are_retried(vault: Seeded, codes: tuple[int, ...]) -> None:
    vault.server.queue_status(*codes)
    result = backend(vault_env(vault)).read([APP])[APP]
    assert result.data is not None
    assert _reads(vault) == [*codes, 200]


@pytest.mark.parametrize("code", [400, 403, 404])
def test_client_errors_are_never_retried(vault: Seeded, code: int) -> None:
    vault.server.queue_status(code)
    result = backend(vault_env(vault)).read([APP])[APP]
    assert result.data is None
    assert result.error is not None
    assert "secret/data/app" in result.error
    assert _reads(vault) == [code]


def test_retries_exhausted_is_exit_3_naming_the_address(vault: Seeded) -> None:
    vault.server.queue_status(*([500] * 10))
    env = vault_env(vault, LSP_RENDER_VAULT_RETRIES="3")
    with pytest.raises(BackendUnavailableError) as caught:
        backend(env).read([APP])
    assert caught.value.exit_code == 3
    assert vault.server.address in str(caught.value)
    assert "3 attempts" in str(caught.value)
    assert len(_reads(vault)) == 3


def test_sealed_vault(vault: Seeded) -> None:
    vault.server.sealed = True
    env = vault_env(vault, LSP_RENDER_VAULT_RETRIES="3")
    with pytest.raises(BackendUnavailableError, match="sealed") as caught:
        backend(env).read([APP])
    assert caught.value.exit_code == 3
    assert vault.server.root_token not in str(caught.value)


def test_standby_vault(vault: Seeded) -> None:
    vault.server.standby = True
    env = vault_env(vault, LSP_RENDER_VAULT_RETRIES="2")
    with pytest.raises(BackendUnavailableError, match="standby"):
        backend(env).read([APP])
    assert len(_reads(vault)) == 2


def test_health_endpoint_shapes(vault: Seeded) -> None:
    import requests

    url = vault.server.address + "/v1/sys/health"
    assert requests.get(url, timeout=5).status_code == 200
    vault.server.standby = True
    answer = requests.get(url, timeout=5)
    assert (answer.status_code, answer.json()["standby"]) == (429, True)
    vault.server.sealed = True
    answer = requests.get(url, timeout=5)
    assert (answer.status_code, answer.json()["sealed"]) == (503, True)


def test_budget_exceeded_is_exit_3(vault: Seeded) -> None:
    vault.server.sealed = True
    env = vault_env(
        vault,
        LSP_RENDER_VAULT_BUDGET="0.5",
        LSP_RENDER_VAULT_RETRIES="1000",
        LSP_RENDER_VAULT_BACKOFF="0.05",
    )
    with pytest.raises(BackendUnavailableError, match="0.5 s budget") as caught:
        backend(env).read([APP])
    assert caught.value.exit_code == 3


def test_request_timeout_then_budget(vault: Seeded) -> None:
    vault.server.latency = 1.0
    env = vault_env(
        vault,
        LSP_RENDER_VAULT_TIMEOUT="0.2",
        LSP_RENDER_VAULT_BUDGET="0.6",
        LSP_RENDER_VAULT_RETRIES="1000",
    )
    with pytest.raises(BackendUnavailableError, match="budget|timed out"):
        backend(env).read([APP])
    # every request the server saw was cut short by the client, none answered in time
    assert len(vault.server.requests("GET")) <= 6


def test_unreachable_vault_names_the_address_only() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        "VAULT_ADDR": f"http://127.0.0.1:{port}",
        "VAULT_TOKEN": "hvs.must-not-leak",
        "LSP_RENDER_VAULT_BACKOFF": "0.01",
        "LSP_RENDER_VAULT_RETRIES": "3",
    }
    with pytest.raises(BackendUnavailableError) as caught:
        backend(env).read([APP])
    assert f"127.0.0.1:{port}" in str(caught.value)
    assert "connection failed" in str(caught.value)
    assert "must-not-leak" not in str(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_no_secret_value_in_any_message_or_log(
    vault: Seeded, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    scenarios = [
        lambda: vault.server.queue_status(500, 403),
        lambda: vault.server.queue_status(404),
        lambda: vault.server.drop_next(1),
        lambda: None,
    ]
    refs = [
        ref("secret/app"),
        ref("secret/app", "1"),
        ref("secret/gone"),
        ref("secret/burnt", "1"),
        ref("kv/legacy"),
        ref("secret/nope"),
        ref("secret/team-b/db"),
    ]
    for arrange in scenarios:
        arrange()
        results = backend(vault_env(vault)).read(refs)
        texts.extend(r.error or "" for r in results.values())
    # denied reads with a login token, a refused cached token and a failed login
    b = backend(k8s_env(vault, tmp_path), role="team-a-reader")
    texts.extend(r.error or "" for r in b.read(refs).values())
    failing = [
        vault_env(vault, LSP_RENDER_VAULT_RETRIES="2"),
        vault_env(
            vault,
            VAULT_TOKEN="",
            LSP_RENDER_VAULT_AUTH="userpass",
            LSP_RENDER_VAULT_USERNAME="alice",
            LSP_RENDER_VAULT_PASSWORD=PASSWORD + "-wrong",
        ),
    ]
    for sealed, env in zip((True, False), failing, strict=True):
        vault.server.sealed = sealed
        with pytest.raises(LspRenderError) as caught:
            backend(env).read(refs)
        texts.extend([str(caught.value), repr(caught.value), caught.value.detail or ""])
    texts.append(caplog.text)
    blob = "\n".join(texts)
    assert "Could not find secrets at path secret/nope" in blob  # the scan sees real messages
    for value in [*vault.values, PASSWORD, SECRET_ID, vault.server.root_token]:
        assert value not in blob
    for token in vault.server.tokens:
        assert token not in blob
