"""The bare minimum of a hybrid render, for scenario 1: one process, no lsp-render.

Imports helm_python, loads the chart, renders it with the same values, writes the
output beside a copy of the last-mile kustomization and runs ``kubectl kustomize``.

Usage: ``python bench/hybrid_baseline.py SPEC.json`` (written by scenario_hybrid.py).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import helm_python
import yaml

__all__ = ["main"]


def _merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def main() -> int:
    spec = json.loads(Path(sys.argv[1]).read_text())
    values: dict[str, Any] = {}
    for name in spec["value_files"]:
        values = _merge(values, yaml.load(Path(name).read_text(), Loader=yaml.CSafeLoader) or {})
    values = _merge(values, spec["values"])
    chart = helm_python.Chart.load(spec["chart"])
    files = chart.render(values, name=spec["release"], namespace=spec["namespace"])
    docs = [
        text
        for path, text in sorted(files.items())
        if text.strip() and not path.endswith("NOTES.txt")
    ]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "helm.yaml").write_text("---\n" + "---\n".join(docs))
        kustomization = Path(spec["kustomization"])
        data = yaml.load(kustomization.read_text(), Loader=yaml.CSafeLoader)
        data["resources"] = ["helm.yaml", *(data.get("resources") or [])]
        (work / "kustomization.yaml").write_text(yaml.dump(data, Dumper=yaml.CSafeDumper))
        kubectl = shutil.which("kubectl") or "kubectl"
        out = subprocess.run(
            [kubectl, "kustomize", str(work)], capture_output=True, check=True
        ).stdout
    sys.stdout.buffer.write(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
