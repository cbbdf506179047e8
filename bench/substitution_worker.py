"""One side of scenario 3, run in its own process: time and peak-RSS growth of the work.

Usage: ``python bench/substitution_worker.py ours|pyyaml STREAM SECRETS``. Prints JSON
``{"seconds": ..., "rss_mb": ..., "documents": ..., "left": ...}`` (``left``: placeholders
still in our output). The modules the work needs and the
stream's text are loaded first; the RSS figure is the growth of ``ru_maxrss`` after that.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

__all__ = ["main"]


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    side, stream, secrets_file = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    if side == "ours":
        import lsp_render.secrets
        import lsp_render.secrets.backends.file
        import lsp_render.secrets.document
        from lsp_render.core.context import AppInfo, RenderRequest, SecretOptions
        from lsp_render.core.manifests import join_stream, split_stream

        request = RenderRequest(
            app_dir=stream.parent,
            repo_root=stream.parent,
            app=AppInfo(name="bench"),
            secrets=SecretOptions(secrets_file=secrets_file),
        )

        def work(text: str) -> tuple[int, int]:
            docs = split_stream(text, "stream.yaml")
            out = lsp_render.secrets.substitute_documents(docs, request)
            result = join_stream(out)
            return len(out), result.count("<path:") + result.count(": <user>")
    else:
        import yaml

        def work(text: str) -> tuple[int, int]:
            docs = list(yaml.load_all(text, Loader=yaml.CSafeLoader))
            yaml.dump_all(docs, Dumper=yaml.CSafeDumper)
            return len(docs), 0

    text = stream.read_text(encoding="utf-8")
    before = _maxrss_mb()
    start = time.perf_counter()
    count, left = work(text)
    seconds = time.perf_counter() - start
    grown = _maxrss_mb() - before
    print(json.dumps({"seconds": seconds, "rss_mb": grown, "documents": count, "left": left}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
