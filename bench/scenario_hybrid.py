"""Scenario 1: a hybrid render (Phalanx chart + last-mile JSON6902 patches) vs the bare minimum.

The app is Phalanx's ``tap`` (a local ``file://`` dependency on ``charts/cadc-tap``)
copied into a temporary repository with a kustomization of two JSON6902 patches.
``lsp-render init`` builds the dependency once (Argo CD's init step); then
``lsp-render render`` (a subprocess, in the app directory with Argo CD's
environment) is timed against the shell pipe a user would write with the real
tools: ``helm template`` into a file, then ``kubectl kustomize``.
"""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

from benchlib import (
    Result,
    bench_env,
    compare_commands,
    lsp_render_argv,
    run,
    same_objects,
)
from native import helm_binary, kubectl_binary

__all__ = ["APP", "GOAL", "argocd_env", "measure", "prepare"]

APP = "tap"
LIBRARY = "cadc-tap"
ENV = "idfprod"
GOAL = 1.2
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


def measure(shared: Path, tmp: Path, runs: int) -> list[Result]:
    """Time ``lsp-render render`` against the shell pipe users would otherwise write.

    The baseline is ``helm template ... > helm.yaml && kubectl kustomize`` over a copy of
    the kustomization that lists ``helm.yaml`` (Kustomize reads files, not stdin): the
    real Helm binary and the real Kustomize, with the same values.
    """
    helm = helm_binary()
    kubectl = kubectl_binary()
    if helm is None or kubectl is None:
        return [Result("hybrid render", None, None, "", "-", None, note="SKIPPED: no helm")]
    app = prepare(shared, tmp)
    set_args = [arg for key, value in SETS.items() for arg in ("--set", f"{key}={value}")]
    ours = [*lsp_render_argv(), "render", *set_args]
    pipe_dir = tmp / "pipe"
    pipe_dir.mkdir()
    (pipe_dir / "kustomization.yaml").write_text(KUSTOMIZATION + "resources: [helm.yaml]\n")
    values = ["-f", str(app / "values.yaml"), "-f", str(app / f"values-{ENV}.yaml")]
    helm_cmd = shlex.join(
        [helm, "template", APP, str(app), "--namespace", APP, "--include-crds", *values, *set_args]
    )
    kustomize_cmd = shlex.join([kubectl, "kustomize", str(pipe_dir)])
    theirs = [
        "/bin/sh",
        "-c",
        f"{helm_cmd} > {shlex.quote(str(pipe_dir / 'helm.yaml'))} && {kustomize_cmd}",
    ]
    env = argocd_env()
    mine, native = compare_commands([(ours, env, app), (theirs, bench_env(), tmp)], runs)
    same, count, other = same_objects(mine.stdout, native.stdout)
    patched = b"example.org/last-mile" in mine.stdout and b"example.org/tier" in mine.stdout
    ok = mine.seconds / native.seconds <= GOAL and same and patched
    return [
        Result(
            f"hybrid render ({APP}, {ENV})",
            mine.seconds,
            native.seconds,
            "s",
            f"<= {GOAL}x",
            ok,
            note=(
                f"vs helm template | kubectl kustomize; median of {runs} interleaved runs; "
                f"objects ours/theirs {count}/{other}, same objects: {same}, "
                f"patches applied: {patched}"
            ),
        ),
        Result(
            f"hybrid render ({APP}) peak RSS",
            mine.rss_mb,
            max(native.rss_mb, 0.1),
            "MB",
            "info",
            None,
            note="GNU time over sh: the larger of helm's and kubectl's peaks",
        ),
    ]
