"""Helm apps: ``lsp-render render`` vs ``helm template --include-crds``, whole commands.

Two charts of ``../shared/corpus/charts``: kube-prometheus-stack (four vendored
subcharts, CRDs, about 5.2 MB of output) and its grafana subchart on its own (a
mid-size chart). Each is copied into a temporary repository; both sides render it
with the same release name, namespace and ``--set``; the table gives the median
wall time and the peak RSS of each side, and whether both print the same objects
(and the same bytes).
"""

from __future__ import annotations

from pathlib import Path

from benchlib import (
    Result,
    bench_env,
    compare_commands,
    copy_tree,
    lsp_render_argv,
    same_objects,
)
from native import helm_binary

__all__ = ["CHARTS", "GOAL", "measure"]

GOAL = 1.2
# (row label, release name, chart directory under corpus/charts, --set values)
CHARTS = (
    ("kube-prometheus-stack", "kps", "kube-prometheus-stack", ("grafana.adminPassword=x",)),
    ("grafana (mid-size)", "grafana", "kube-prometheus-stack/charts/grafana", ("adminPassword=x",)),
)


def measure(shared: Path, tmp: Path, runs: int) -> list[Result]:
    """Return a time row and a peak-RSS row per chart."""
    helm = helm_binary()
    if helm is None:
        return [Result("helm template", None, None, "", "-", None, note="SKIPPED: no helm binary")]
    rows: list[Result] = []
    for label, release, relative, sets in CHARTS:
        repo = tmp / f"repo-{release}"
        (repo / ".git").mkdir(parents=True)
        chart = copy_tree(shared / "corpus" / "charts" / relative, repo / "chart")
        set_args = [arg for value in sets for arg in ("--set", value)]
        ours = [*lsp_render_argv(), "render", str(chart), "--release-name", release, *set_args]
        ours += ["--namespace", "default"]
        theirs = [helm, "template", release, str(chart), "--include-crds", *set_args]
        env = bench_env()
        mine, native = compare_commands([(ours, env, repo), (theirs, env, repo)], runs)
        same, count, _ = same_objects(mine.stdout, native.stdout)
        identical = mine.stdout == native.stdout
        note = (
            f"median of {runs} interleaved runs; {count} objects, "
            f"{len(native.stdout) / 1e6:.2f} MB; same objects: {same}, same bytes: {identical}"
        )
        rows.append(
            Result(
                f"helm {label}",
                mine.seconds,
                native.seconds,
                "s",
                f"<= {GOAL}x",
                mine.seconds / native.seconds <= GOAL and same,
                note=note,
            )
        )
        binary, _ = compare_commands(
            [(ours, {**env, "LSP_RENDER_HELM": helm}, repo), (theirs, env, repo)], runs
        )
        rows.append(
            Result(
                f"helm {label}, LSP_RENDER_HELM",
                binary.seconds,
                native.seconds,
                "s",
                "info",
                None,
                note="the same render through the helm binary (what the sidecar image runs)",
            )
        )
        rows.append(
            Result(
                f"helm {label} peak RSS",
                mine.rss_mb,
                native.rss_mb,
                "MB",
                f"<= {GOAL}x",
                mine.rss_mb / native.rss_mb <= GOAL,
            )
        )
    return rows
