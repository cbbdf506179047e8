"""The engine child's replies come back whole: texts in a pickle, a text's pieces in chunks.

A rendered stream (``TextParts``) is sent as UTF-8 chunks, never joined, encoded
or pickled whole in the child, with the CRD files it leaves out; any other reply
is one pickle. Each case asks a
real engine child (a fresh interpreter; the test process never loads Helm's Go
library) to return texts and pieces around the chunk size, with characters of
every UTF-8 length and a lone surrogate, and compares what arrives.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli_helpers import base_env, fresh_python

_SCRIPT = """
import json, operator
from lsp_render.sources.helm.engine_child import call_engine, stop_engine_child
from lsp_render.sources.helm import engine_child as ec
results = {}
piece = "a\\u00e9\\u20ac\\U0001f642\\ud800"
for name, count in (("small", 10), ("at", ec._CHUNK), ("big", 3 * ec._CHUNK + 7)):
    text = (piece * (count // len(piece) + 1))[:count]
    back = call_engine("operator", "add", (text, ""), timeout=120, what="probe")
    results[name] = [len(back), back == text]
parts = [piece * 300_000, "", "x", piece * (ec._CHUNK // len(piece)), "\u00e9" * (ec._CHUNK + 3)]
back = call_engine(ec.__name__, "TextParts", (parts,), timeout=120, what="probe")
results["parts"] = [back.parts == ["".join(parts)], back.crd_files]
listing = [("chart/crds/x.yaml", "crds/x.yaml")]
listing.append(("chart/charts/s/crds/\u00e9.yaml", "charts/s/crds/\u00e9.yaml"))
back = call_engine(ec.__name__, "TextParts", (["y"], listing), timeout=120, what="probe")
results["listing"] = [back.parts, back.crd_files == listing]
print(json.dumps(results))
stop_engine_child()
"""


def test_texts_of_every_size_come_back_whole(tmp_path: Path) -> None:
    env = base_env(tmp_path)
    env["PATH"] = str(tmp_path / "no-helm")
    proc = fresh_python(_SCRIPT, env=env)
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)
    assert results["small"] == [10, True]
    assert results["at"] == [1 << 20, True]
    assert results["big"] == [3 * (1 << 20) + 7, True]
    assert results["parts"] == [True, None]  # pieces sent unjoined arrive as one text
    assert results["listing"] == [["y"], True]  # the CRD files a text leaves out travel with it
