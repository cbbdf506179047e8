"""Kustomize apps: ``lsp-render render`` vs ``kubectl kustomize``, whole commands.

Every overlay of ``../shared/corpus/kustomize-examples`` that ``kubectl kustomize``
builds on its own is rendered by both sides in a temporary copy; the row gives
the median over the examples of each side's median wall time, and whether every
example printed the same objects.
"""

from __future__ import annotations

import statistics
import subprocess
from pathlib import Path

from benchlib import Result, bench_env, compare_commands, copy_tree, lsp_render_argv, same_objects
from native import kubectl_binary

__all__ = ["GOAL", "measure"]

GOAL = 1.2
_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")


def _overlays(root: Path) -> list[Path]:
    found = sorted({p.parent for name in _NAMES for p in root.rglob(name)})
    return [d for d in found if not any(part.startswith(".") for part in d.parts)]


def measure(shared: Path, tmp: Path, runs: int) -> list[Result]:
    """Return one row over all the examples."""
    kubectl = kubectl_binary()
    if kubectl is None:
        return [Result("kustomize", None, None, "", "-", None, note="SKIPPED: no kubectl")]
    repo = tmp / "repo"
    (repo / ".git").mkdir(parents=True)
    copy_tree(shared / "corpus" / "kustomize-examples", repo / "examples")
    env = bench_env()
    ours_s: list[float] = []
    theirs_s: list[float] = []
    names: list[str] = []
    mismatched: list[str] = []
    for overlay in _overlays(repo / "examples"):
        native = [kubectl, "kustomize", str(overlay)]
        probe = subprocess.run(native, capture_output=True, check=False)
        if probe.returncode != 0:
            continue  # a component or a base that does not build alone
        ours = [*lsp_render_argv(), "render", str(overlay)]
        mine, theirs = compare_commands([(ours, env, repo), (native, env, repo)], runs)
        if not same_objects(mine.stdout, theirs.stdout)[0]:
            mismatched.append(overlay.relative_to(repo).as_posix())
        ours_s.append(mine.seconds)
        theirs_s.append(theirs.seconds)
        names.append(overlay.relative_to(repo / "examples").as_posix())
    ratios = [o / t for o, t in zip(ours_s, theirs_s, strict=True)]
    mine_m, theirs_m = statistics.median(ours_s), statistics.median(theirs_s)
    return [
        Result(
            f"kustomize examples ({len(names)})",
            mine_m,
            theirs_m,
            "s",
            f"<= {GOAL}x",
            max(ratios) <= GOAL and not mismatched,
            ratio=statistics.median(ratios),
            note=(
                f"ratio = median per-example ratio (worst {max(ratios):.2f}x); "
                f"{runs} interleaved runs each; examples {', '.join(names)}; "
                f"different objects: {', '.join(mismatched) or 'none'}"
            ),
        )
    ]
