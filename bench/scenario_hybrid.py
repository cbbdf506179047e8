"""Scenario 1: a hybrid render (Phalanx chart + last-mile JSON6902 patches) vs the bare minimum.

The app is Phalanx's ``tap`` (a local ``file://`` dependency on ``charts/cadc-tap``)
copied into a temporary repository with a kustomization of two JSON6902 patches.
``lsp-render init`` builds the dependency once (Argo CD's init step); then
``lsp-render render`` (a subprocess, in the app directory with Argo CD's
environment) is timed against
``hybrid_baseline.py`` (a subprocess that imports helm_python, renders the same
chart with the same values and runs the same ``kubectl kustomize``).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from benchlib import BENCH, Result, bench_env, lsp_render_argv, median_interleaved, run

__all__ = ["APP", "GOAL", "argocd_env", "measure", "prepare"]

APP = "tap"
LIBRARY = "cadc-tap"
ENV = "idfprod"
GOAL = 1.15
SETS = {
    "global.host": "data.lsst.cloud",
    "global.baseUrl": "https://data.lsst.cloud",
    "global.environmentName": "idfprod",
    "global.vaultSecretsPath": "secret/phalanx/idfprod",
}
KUSTOMIZATION = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
patches:
  - target: {kind: Deployment, name: cadc-tap}
    patch: |-
      - op: add
        path: /metadata/annotations/example.org~1last-mile
        value: "true"
  - target: {kind: Service, name: cadc-tap}
    patch: |-
      - op: add
        path: /metadata/labels/example.org~1tier
        value: backend
"""


def _copy(source: Path, dest: Path) -> None:
    shutil.copytree(source, dest, symlinks=True)
    for path in (dest, *dest.rglob("*")):
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | 0o200)


def prepare(shared: Path, tmp: Path) -> Path:
    """Build the temporary repository and return the app directory (dependency built)."""
    corpus = shared / "corpus" / "phalanx"
    repo = tmp / "repo"
    _copy(corpus / "applications" / APP, repo / "applications" / APP)
    _copy(corpus / "charts" / LIBRARY, repo / "charts" / LIBRARY)
    app = repo / "applications" / APP
    (app / "kustomization.yaml").write_text(KUSTOMIZATION)
    run([*lsp_render_argv(), "init"], env=argocd_env(), cwd=app)
    return app


def argocd_env() -> dict[str, str]:
    """Return the environment argocd-cmp-server gives the plugin for this app."""
    return bench_env(
        {
            "ARGOCD_APP_NAME": APP,
            "ARGOCD_APP_NAMESPACE": APP,
            "ARGOCD_APP_SOURCE_PATH": f"applications/{APP}",
            "ARGOCD_ENV_ENV": ENV,
        }
    )


def _nested(flat: dict[str, str]) -> dict[str, object]:
    out: dict[str, object] = {}
    for dotted, value in flat.items():
        node = out
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})  # type: ignore[assignment]
        node[leaf] = value
    return out


def measure(shared: Path, tmp: Path, runs: int) -> list[Result]:
    """Time both sides ``runs`` times, interleaved; return the table row."""
    app = prepare(shared, tmp)
    ours = [*lsp_render_argv(), "render"]
    for key, value in SETS.items():
        ours += ["--set", f"{key}={value}"]
    spec = tmp / "baseline.json"
    spec.write_text(
        json.dumps(
            {
                "chart": str(app),
                "value_files": [str(app / "values.yaml"), str(app / f"values-{ENV}.yaml")],
                "values": _nested(SETS),
                "release": APP,
                "namespace": APP,
                "kustomization": str(app / "kustomization.yaml"),
            }
        )
    )
    theirs = [sys.executable, str(BENCH / "hybrid_baseline.py"), str(spec)]
    env = argocd_env()
    ours_out = run(ours, env=env, cwd=app).stdout
    theirs_out = run(theirs, env=env).stdout
    objects = (ours_out.count(b"\nkind: "), theirs_out.count(b"\nkind: "))
    patched = b"example.org/last-mile" in ours_out and b"example.org/tier" in ours_out
    ours_s, theirs_s = median_interleaved(
        [lambda: run(ours, env=env, cwd=app), lambda: run(theirs, env=env)], runs
    )
    ok = ours_s / theirs_s <= GOAL and objects[0] == objects[1] and patched
    return [
        Result(
            f"1 hybrid render ({APP}, {ENV})",
            ours_s,
            theirs_s,
            "s",
            f"<= {GOAL}x",
            ok,
            note=(
                f"median of {runs} interleaved runs; objects ours/baseline {objects[0]}/"
                f"{objects[1]}, patches applied: {patched}"
            ),
        )
    ]
