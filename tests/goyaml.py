"""Go's YAML parser as a test oracle: what Argo CD can read, through ``kubectl kustomize``.

Kustomize reads every resource with go-yaml (the parser Argo CD uses) and prints
the objects again; a stream it refuses is one Argo CD cannot apply. Two limits of
this oracle: Kustomize refuses to re-emit C0 and DEL control characters even when
they were correctly escaped, and its output writes a NEL (U+0085) raw, which PyYAML
then reads as a line break.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

__all__ = ["GoYamlError", "go_yaml_objects"]


class GoYamlError(AssertionError):
    """Kustomize (go-yaml) refused the stream."""


def go_yaml_objects(stream: str, workdir: Path) -> list[dict[str, Any]]:
    """Return the objects of ``stream`` as go-yaml reads them (Kustomize's output, parsed).

    Parameters
    ----------
    stream
        A YAML stream of Kubernetes objects with distinct kinds/names.
    workdir
        An empty or new directory for the kustomization.

    Returns
    -------
    list of dict
        The objects Kustomize printed, in its order.

    Raises
    ------
    GoYamlError
        Kustomize refused the stream; the message holds its error.
    """
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl (with kustomize) must be on PATH"
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "stream.yaml").write_text(stream, encoding="utf-8")
    (workdir / "kustomization.yaml").write_text("resources: [stream.yaml]\n", encoding="utf-8")
    proc = subprocess.run(
        [kubectl, "kustomize", str(workdir)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )
    if proc.returncode != 0:
        raise GoYamlError(proc.stderr.strip()[-2000:])
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc is not None]
