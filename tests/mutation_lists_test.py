"""The mutation edit lists stay applicable, and the runner refuses an edit it cannot apply.

Running the mutants is slow (``python tests/mutation/run.py``, docs/mutation.md); this
only checks, quickly, that every ``tests/mutation/*.json`` is well formed and each
``find`` still occurs exactly once in its file, so a refactoring that silently
disarms a recorded mutation fails here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.mutation.run import HERE, ROOT, EditListError, load_mutations

LISTS = sorted(HERE.glob("*.json"))


@pytest.mark.parametrize("path", LISTS, ids=lambda p: p.name)
def test_every_edit_list_applies(path: Path) -> None:
    assert load_mutations(path)


def _write(tmp_path: Path, **overrides: object) -> Path:
    entry: dict[str, object] = {
        "file": "plugin/lsp_render/secrets/scan.py",
        "find": 'ANNOTATION_PREFIX = "avp.kubernetes.io/"',
        "replace": 'ANNOTATION_PREFIX = "x/"',
        "tests": ["tests/secrets_avp_test.py"],
        "why": "test",
    }
    entry.update(overrides)
    path = tmp_path / "list.json"
    path.write_text(json.dumps([entry]))
    return path


def test_the_runner_refuses_what_it_cannot_apply(tmp_path: Path) -> None:
    assert load_mutations(_write(tmp_path), ROOT)[0].replace == 'ANNOTATION_PREFIX = "x/"'
    for overrides, message in [
        ({"find": "return"}, "times"),  # ambiguous
        ({"find": "no such text anywhere"}, "0 times"),
        ({"file": "plugin/lsp_render/nope.py"}, "no file"),
        ({"tests": []}, "non-empty"),
        ({"tests": ["tests/nope_test.py::t"]}, "no test file"),
        ({"replace": 'ANNOTATION_PREFIX = "avp.kubernetes.io/"'}, "equals"),
    ]:
        with pytest.raises(EditListError, match=message):
            load_mutations(_write(tmp_path, **overrides), ROOT)
