"""Vault over HTTPS: the test server behind a private CA made here with ``openssl``.

Every case runs the real CLI against ``tests/vaultserver.py`` serving TLS, through
the real hvac client: VAULT_CACERT, VAULT_CAPATH (a hashed directory, ``openssl
rehash``), VAULT_SKIP_VERIFY, a client certificate the server requires
(VAULT_CLIENT_CERT / VAULT_CLIENT_KEY), VAULT_TLS_SERVER_NAME, and no CA at all.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cli_helpers import Result, assert_failure, base_env, run
from tests.hardening_matrix_test import write_app
from tests.vaultserver import VaultServer

SECRET = (
    "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n"
    'stringData:\n  password: "<path:secret/data/app#password>"\n'
)
VALUE = "S3CR3T-over-tls"


@dataclass(frozen=True)
class Pki:
    """A private CA and what it signed."""

    ca: Path
    other_ca: Path
    server: tuple[Path, Path]  # SAN IP:127.0.0.1
    named_server: tuple[Path, Path]  # SAN DNS:vault.internal only
    client: tuple[Path, Path]
    hashed_dir: Path  # the CA, c_rehash style


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _key_and_csr(name: str, cwd: Path) -> None:
    _openssl(
        "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=cwd,
    )  # fmt: skip


def _ca(name: str, cwd: Path) -> Path:
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2", "-subj", f"/CN={name}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=cwd,
    )  # fmt: skip
    return cwd / f"{name}.pem"


def _sign(name: str, ext: str, cwd: Path) -> tuple[Path, Path]:
    _key_and_csr(name, cwd)
    (cwd / f"{name}.ext").write_text(ext + "\n")
    _openssl(
        "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext",
        cwd=cwd,
    )  # fmt: skip
    return cwd / f"{name}.pem", cwd / f"{name}.key"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """Make a CA, a second (unrelated) CA, server and client certificates."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make the test CA")
    cwd = tmp_path_factory.mktemp("pki")
    ca = _ca("ca", cwd)
    other = _ca("other-ca", cwd)
    server = _sign(
        "server",
        "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature",
        cwd,
    )
    named = _sign(
        "named",
        "subjectAltName=DNS:vault.internal\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature",
        cwd,
    )
    client = _sign("client", "extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature", cwd)
    hashed = cwd / "hashed"
    hashed.mkdir()
    shutil.copy(ca, hashed / "ca.pem")
    _openssl("rehash", str(hashed), cwd=cwd)
    assert any(p.name.endswith(".0") for p in hashed.iterdir())
    return Pki(ca, other, server, named, client, hashed)


def _server(pki: Pki, *, named: bool = False, client_ca: bool = False) -> VaultServer:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert, key = pki.named_server if named else pki.server
    context.load_cert_chain(cert, key)
    if client_ca:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(pki.ca)
    server = VaultServer()
    server.ssl_context = context
    server.start()
    server.add_kv_mount("secret", 2)
    server.put("secret/app", {"password": VALUE})
    return server


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository with one plain app holding one placeholder."""
    root = write_app(tmp_path / "repo", {"apps/app/secret.yaml": SECRET})
    (root / ".git").mkdir()
    return root


@pytest.fixture
def https(pki: Pki) -> Iterator[VaultServer]:
    """An HTTPS Vault test server with the CA's certificate for 127.0.0.1."""
    server = _server(pki)
    yield server
    server.stop()


def _render(repo: Path, server: VaultServer, tmp_path: Path, **extra: str) -> Result:
    env = {
        **base_env(tmp_path / "home"),
        "VAULT_ADDR": server.address,
        "VAULT_TOKEN": server.root_token,
        "LSP_RENDER_VAULT_RETRIES": "2",
        "LSP_RENDER_VAULT_BACKOFF": "0.01",
        "LSP_RENDER_VAULT_TIMEOUT": "5",
        **extra,
    }
    return run(["render", "apps/app"], cwd=repo, env=env, timeout=60)


def _ok(result: Result) -> None:
    assert result.code == 0, result.stderr
    assert VALUE in result.stdout


def test_ca_file(pki: Pki, https: VaultServer, repo: Path, tmp_path: Path) -> None:
    _ok(_render(repo, https, tmp_path, VAULT_CACERT=str(pki.ca)))


def test_ca_directory(pki: Pki, https: VaultServer, repo: Path, tmp_path: Path) -> None:
    _ok(_render(repo, https, tmp_path, VAULT_CAPATH=str(pki.hashed_dir)))


def test_cacert_wins_over_capath(pki: Pki, https: VaultServer, repo: Path, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    shutil.copy(pki.other_ca, wrong / "other.pem")
    subprocess.run(["openssl", "rehash", str(wrong)], check=True, capture_output=True)
    _ok(_render(repo, https, tmp_path, VAULT_CACERT=str(pki.ca), VAULT_CAPATH=str(wrong)))


def test_skip_verify(https: VaultServer, repo: Path, tmp_path: Path) -> None:
    result = _render(repo, https, tmp_path, VAULT_SKIP_VERIFY="true")
    _ok(result)
    assert result.stderr == ""  # no urllib3 warning per request on Argo CD's log


def test_no_ca_is_unreachable(https: VaultServer, repo: Path, tmp_path: Path) -> None:
    result = _render(repo, https, tmp_path)
    assert_failure(result, 3, "apps/app", "TLS with Vault at https://127.0.0.1:", "VAULT_CACERT")
    assert https.log == []  # the handshake failed: no request, no token


def test_wrong_ca_is_unreachable(pki: Pki, https: VaultServer, repo: Path, tmp_path: Path) -> None:
    result = _render(repo, https, tmp_path, VAULT_CACERT=str(pki.other_ca))
    assert_failure(result, 3, "apps/app", "TLS with Vault")


def test_missing_ca_file_is_bad_input(https: VaultServer, repo: Path, tmp_path: Path) -> None:
    result = _render(repo, https, tmp_path, VAULT_CACERT=str(tmp_path / "nope.pem"))
    assert_failure(result, 2, "VAULT_CACERT", "nope.pem")


def test_client_certificate(pki: Pki, repo: Path, tmp_path: Path) -> None:
    server = _server(pki, client_ca=True)
    try:
        without = _render(repo, server, tmp_path, VAULT_CACERT=str(pki.ca))
        assert_failure(without, 3, "apps/app", "Vault at https://127.0.0.1:")
        cert, key = pki.client
        with_cert = _render(
            repo,
            server,
            tmp_path,
            VAULT_CACERT=str(pki.ca),
            VAULT_CLIENT_CERT=str(cert),
            VAULT_CLIENT_KEY=str(key),
        )
        _ok(with_cert)
    finally:
        server.stop()


def test_tls_server_name(pki: Pki, repo: Path, tmp_path: Path) -> None:
    server = _server(pki, named=True)
    names: list[str | None] = []
    assert server.ssl_context is not None
    server.ssl_context.sni_callback = lambda _sock, name, _ctx: names.append(name)  # type: ignore[assignment,func-returns-value]
    try:
        mismatch = _render(repo, server, tmp_path, VAULT_CACERT=str(pki.ca))
        assert_failure(mismatch, 3, "apps/app", "TLS with Vault")
        named = _render(
            repo,
            server,
            tmp_path,
            VAULT_CACERT=str(pki.ca),
            VAULT_TLS_SERVER_NAME="vault.internal",
        )
        _ok(named)
        assert names[-1] == "vault.internal"  # sent in SNI too
    finally:
        server.stop()
