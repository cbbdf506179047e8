"""Progress and summary of a ``render-all`` run.

On a terminal, a progress bar on stderr; otherwise one plain line per pair
(CI logs). The summary is a table per environment, then one line per failed
pair, both in a deterministic order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

import click

from lsp_render.workflows.worker import PairResult

if TYPE_CHECKING:
    from types import TracebackType

__all__ = [
    "BarProgress",
    "LineProgress",
    "Progress",
    "format_summary",
    "format_validation",
    "make_progress",
]


class Progress:
    """Report pairs as they finish (base: report nothing)."""

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        del exc_type, exc, tb

    def advance(self, result: PairResult) -> None:
        """Report one finished pair."""
        del result


class LineProgress(Progress):
    """One plain line per finished pair: ``[  3/270] ok   idfdev/hips (12 objects, 0.04s)``."""

    def __init__(self, stream: TextIO, total: int) -> None:
        self._stream = stream
        self._total = total
        self._done = 0
        self._width = len(str(total))

    def advance(self, result: PairResult) -> None:
        """Write the pair's line."""
        self._done += 1
        status = "ok  " if result.ok else "FAIL"
        detail = f"{result.objects} objects" if result.ok else f"exit {result.exit_code}"
        self._stream.write(
            f"[{self._done:>{self._width}}/{self._total}] {status} {result.pair.label} "
            f"({detail}, {result.seconds:.2f}s)\n"
        )
        self._stream.flush()


class BarProgress(Progress):
    """A progress bar (``click.progressbar``) on a terminal."""

    def __init__(self, stream: TextIO, total: int) -> None:
        self._failed = 0
        self._bar = click.progressbar(
            length=total,
            label="rendering",
            file=stream,
            show_pos=True,
            show_eta=True,
            item_show_func=self._show,
        )
        self._last: str | None = None

    def _show(self, item: object) -> str | None:
        del item
        if self._last is None:
            return None
        failed = f"  {self._failed} failed" if self._failed else ""
        return f"{self._last}{failed}"

    def __enter__(self) -> BarProgress:
        self._bar.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._bar.__exit__(exc_type, exc, tb)

    def advance(self, result: PairResult) -> None:
        """Move the bar by one pair."""
        if not result.ok:
            self._failed += 1
        self._last = result.pair.label
        self._bar.update(1, result.pair.label)


def make_progress(stream: TextIO, total: int) -> Progress:
    """Choose a progress bar when ``stream`` is a terminal, else plain lines."""
    if stream.isatty():
        return BarProgress(stream, total)
    return LineProgress(stream, total)


@dataclass
class _Row:
    rendered: int = 0
    failed: int = 0
    objects: int = 0
    seconds: float = 0.0

    def add(self, result: PairResult) -> None:
        if result.ok:
            self.rendered += 1
        else:
            self.failed += 1
        self.objects += result.objects
        self.seconds += result.seconds


def format_summary(results: Sequence[PairResult], wall_seconds: float, jobs: int) -> str:
    """Format the summary table and the failures.

    Parameters
    ----------
    results
        Every pair's result (any order; the output is sorted).
    wall_seconds
        Wall-clock time of the whole run.
    jobs
        Number of worker processes used.

    Returns
    -------
    str
        The table (one row per environment, then the total), then one
        ``FAILED <env>/<app>: <message>`` line per failed pair.
    """
    rows: dict[str, _Row] = {}
    total = _Row()
    for result in results:
        rows.setdefault(result.pair.env or "(none)", _Row()).add(result)
        total.add(result)
    name_width = max([len("environment"), *(len(name) for name in rows)])
    header = (
        f"{'environment':<{name_width}}  {'rendered':>8}  {'failed':>6}  {'objects':>7}  "
        f"{'time':>8}"
    )
    lines = [header, "-" * len(header)]
    for name in sorted(rows):
        row = rows[name]
        lines.append(
            f"{name:<{name_width}}  {row.rendered:>8}  {row.failed:>6}  {row.objects:>7}  "
            f"{row.seconds:>7.2f}s"
        )
    lines.append("-" * len(header))
    rate = len(results) / wall_seconds if wall_seconds > 0 else 0.0
    lines.append(
        f"{'total':<{name_width}}  {total.rendered:>8}  {total.failed:>6}  {total.objects:>7}  "
        f"{total.seconds:>7.2f}s"
    )
    lines.append(
        f"{len(results)} pairs in {wall_seconds:.2f}s wall time with {jobs} "
        f"job{'s' if jobs != 1 else ''} ({rate:.1f} pairs/s)"
    )
    failed = sorted((r for r in results if not r.ok), key=lambda r: r.pair.sort_key)
    lines.extend(f"FAILED {r.pair.label}: {r.message}" for r in failed)
    return "\n".join(lines) + "\n"


def format_validation(results: Sequence[PairResult]) -> str:
    """Summarise ``--validate`` over the rendered pairs: objects checked, kinds without schema."""
    from collections import Counter

    checked = sum(result.checked for result in results)
    unknown: Counter[str] = Counter()
    for result in results:
        for name, count in result.unknown:
            unknown[name] += count
    line = f"validation: {checked} objects checked"
    if unknown:
        kinds = ", ".join(f"{name} ({n})" for name, n in sorted(unknown.items()))
        line += f", {sum(unknown.values())} without schema: {kinds}"
    return line + "\n"
