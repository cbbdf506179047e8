"""The CRD files of a chart, read and split by the CLI while the engine child renders it.

When the engine child can read a chart's CRDs from its files
(:mod:`.crd_files`), it sends their names and paths instead of their text
(kube-prometheus-stack: 4.6 MB of its 5.2 MB stream), and the CLI reads
them itself. The CLI has nothing else to do while Helm renders, so
:class:`CrdPreparation` reads every CRD file the chart may print (its own and
every subchart's, as if all were enabled), splits each into the documents
``helm template`` prints for it and hands each to the caller's check (the
pipeline's placeholder check, :func:`lsp_render.secrets.scan.remember`), on a
thread, during the render.
The child's answer then says which of them the stream holds and in what
order; a file the guess missed is read then.

The documents of the stream are those of each CRD file's section followed by
those of the rest: each section starts with its ``---`` line and ends with a
newline, so splitting the stream whole or piece by piece gives the same
documents (tests/helm_crd_prep_test.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from lsp_render.core.errors import RenderError
from lsp_render.core.manifests import Document
from lsp_render.sources.helm.crd_files import read_crd_text, read_crds
from lsp_render.sources.helm.output import crd_section, stream_documents

__all__ = ["CrdPreparation", "crd_documents", "crd_text"]


def crd_text(chart_dir: Path, chart: str, path: str) -> str:
    """Return a CRD file's text (the child read it as UTF-8 a moment ago).

    Raises
    ------
    RenderError
        It can no longer be read as the child read it, or ``path`` leads out of
        the chart.
    """
    target = chart_dir / path
    try:
        if target.resolve().is_relative_to(chart_dir.resolve()):  # links resolved too
            return read_crd_text(target)
    except (OSError, UnicodeDecodeError) as exc:
        msg = f"chart {chart}: {path} changed while the chart was rendered"
        raise RenderError(msg) from exc
    msg = f"chart {chart}: {path} is not a file of the chart"  # the child walked no link
    raise RenderError(msg)


def crd_documents(text: str, filename: str) -> list[Document]:
    """Return the documents ``helm template`` prints for one CRD file."""
    return stream_documents(crd_section(filename, text))


# Charts whose files gave nothing to prepare (no CRD file, or a shape only Helm lists):
# render-all renders each for many environments, and a thread each time would be waste.
# Only a speed-up is lost if that changes: the CRD files named are read then.
_NOTHING: set[Path] = set()


class CrdPreparation:
    """Read and split a chart's CRD files on a thread (see the module's docstring)."""

    def __init__(
        self, chart_dir: Path, *, check_document: Callable[[str], object] | None = None
    ) -> None:
        self._chart_dir = chart_dir
        self._check = check_document
        self._ready: dict[tuple[str, str], list[Document]] = {}
        self._thread: threading.Thread | None = None
        if chart_dir not in _NOTHING:
            self._thread = threading.Thread(
                target=self._run, name="lsp-render-crd-prep", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        from lsp_render.sources.helm.dependencies import read_chart_yaml

        try:
            metadata = read_chart_yaml(self._chart_dir)
            name = metadata.get("name") if metadata is not None else None
            if metadata is None or not isinstance(name, str):
                return
            found = read_crds(self._chart_dir, name, metadata, None)  # every subchart
            if not found:
                _NOTHING.add(self._chart_dir)
            for filename, path, text in found or ():
                docs = crd_documents(text, filename)
                for doc in docs:
                    if self._check is not None:
                        self._check(doc.text)
                self._ready[filename, path] = docs
        except Exception:  # a guess only: what the stream holds is read after the render,
            return  # and a thread's traceback would be a second line on stderr

    def documents(self, chart: str, crd_files: Sequence[tuple[str, str]]) -> list[Document]:
        """Return the documents of ``crd_files`` (name printed, path in the chart), in order.

        Raises
        ------
        RenderError
            A file can no longer be read as the child read it.
        """
        self.wait()
        docs: list[Document] = []
        for filename, path in crd_files:
            ready = self._ready.get((filename, path))
            if ready is None:
                ready = crd_documents(crd_text(self._chart_dir, chart, path), filename)
            docs += ready
        return docs

    def wait(self) -> None:
        """Wait for the thread (before anything may fork)."""
        if self._thread is not None:
            self._thread.join()
