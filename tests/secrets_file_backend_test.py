"""The file backend (``--secrets-file``): path spellings, versions, and file errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from lsp_render.core.errors import InputError
from lsp_render.secrets.backend import SecretRef
from lsp_render.secrets.backends.file import FileBackend, normalise_path


def _backend(tmp_path: Path, text: str) -> FileBackend:
    path = tmp_path / "secrets.yaml"
    path.write_text(text)
    return FileBackend.from_file(path)


def test_normalise_path() -> None:
    assert normalise_path("secret/data/app") == "secret/app"
    assert normalise_path("/secret/app/") == "secret/app"
    assert normalise_path("secret/data") == "secret/data"  # a KV v1 secret named "data"
    assert normalise_path("kv/data/a/data/b") == "kv/a/data/b"


def test_both_spellings_match_both_spellings(tmp_path: Path) -> None:
    backend = _backend(tmp_path, "secret/data/a:\n  k: 1\nsecret/b:\n  k: 2\n")
    refs = [
        SecretRef("secret/a", None, None),
        SecretRef("secret/data/a", None, 2),
        SecretRef("secret/b", None, None),
        SecretRef("secret/data/b", None, None),
    ]
    results = backend.read(refs)
    assert [results[ref].data for ref in refs] == [{"k": 1}, {"k": 1}, {"k": 2}, {"k": 2}]
    assert all(results[ref].error is None for ref in refs)


def test_versions(tmp_path: Path) -> None:
    backend = _backend(
        tmp_path,
        "kv/a#1:\n  k: one\nkv/data/a#2:\n  k: two\nkv/b:\n  k: latest\nkv/b#1:\n  k: old\n",
    )
    results = backend.read(
        [
            SecretRef("kv/a", None, None),
            SecretRef("kv/a", "1", None),
            SecretRef("kv/b", None, None),
            SecretRef("kv/b", "1", None),
            SecretRef("kv/b", "9", None),
        ]
    )
    assert results[SecretRef("kv/a", None, None)].data == {"k": "two"}
    assert results[SecretRef("kv/a", "1", None)].data == {"k": "one"}
    assert results[SecretRef("kv/b", None, None)].data == {"k": "latest"}
    assert results[SecretRef("kv/b", "1", None)].data == {"k": "old"}
    missing = results[SecretRef("kv/b", "9", None)]
    assert missing.data is None
    assert missing.error == (
        "The secret version 9 for Vault path kv/b is nil - is this version of the secret deleted?"
    )


def test_missing_path(tmp_path: Path) -> None:
    result = _backend(tmp_path, "{}\n").read([SecretRef("kv/x", None, None)])
    assert result[SecretRef("kv/x", None, None)].error == "Could not find secrets at path kv/x"


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("- a\n", "must map secret paths"),
        ("kv/a: value\n", "kv/a must be a mapping"),
        ("kv/a#x:\n  k: v\n", "the version after # must be a number"),
        ("kv/a:\n  k: v\nkv/data/a:\n  k: w\n", "the same secret is given twice"),
        ("kv/a: [\n", "not valid YAML at line"),
        ("/:\n  k: v\n", "empty secret path"),
    ],
)
def test_malformed_files(tmp_path: Path, text: str, pattern: str) -> None:
    with pytest.raises(InputError, match=pattern):
        _backend(tmp_path, text)


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read the secrets file"):
        FileBackend.from_file(tmp_path / "absent.yaml")


def test_empty_file_holds_nothing(tmp_path: Path) -> None:
    backend = _backend(tmp_path, "")
    assert backend.read([]) == {}
    backend.close()
