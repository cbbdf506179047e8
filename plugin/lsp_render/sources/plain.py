"""Plain applications: a directory of YAML and JSON manifests, taken as they are."""

from __future__ import annotations

import fnmatch
import glob
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from lsp_render.core.errors import InputError
from lsp_render.core.manifests import Document, split_stream
from lsp_render.core.paths import CONFIG_FILE, REPO_CONFIG_FILE, inside
from lsp_render.core.yamlfile import AliasBombError, outline_stream, yaml_error_line

if TYPE_CHECKING:
    from lsp_render.config.app import PlainConfig

__all__ = ["load_plain"]

_SUFFIXES = (".yaml", ".yml", ".json")
_ALWAYS_EXCLUDED = (CONFIG_FILE, REPO_CONFIG_FILE)
_LIST_KIND = re.compile(r'^kind:[ \t]*["\']?List["\']?[ \t]*(#.*)?$', re.MULTILINE)
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_OBJECT_KEYS = frozenset({"apiVersion", "kind"})
_NOT_AN_OBJECT = "document is not a Kubernetes object (no top-level apiVersion and kind)"


def _files(app_dir: Path, config: PlainConfig | None) -> list[Path]:
    # No lsp-render.yaml: PlainConfig's defaults (not recursive, nothing excluded),
    # without loading pydantic for it.
    recursive = config.recursive if config is not None else False
    exclude = config.exclude if config is not None else []
    pattern = "**/*" if recursive else "*"
    found: list[Path] = []
    for path in sorted(app_dir.glob(pattern)):
        rel = path.relative_to(app_dir).as_posix()
        if path.suffix not in _SUFFIXES or path.name in _ALWAYS_EXCLUDED:
            continue
        if any(part.startswith(".") for part in path.relative_to(app_dir).parts):
            continue
        if any(fnmatch.fnmatch(rel, glob) for glob in exclude):
            continue
        if not path.is_dir():  # a FIFO or a device is refused by load_plain, not skipped
            found.append(path)
    return found


def load_plain(
    app_dir: Path, repo_root: Path, config: PlainConfig | None, *, label: str
) -> list[Document]:
    """Read every manifest file of a plain app, in path order.

    ``kind: List`` documents are expanded into their items, empty documents are
    dropped, and a top-level JSON array is expanded too. Everything else passes
    through byte for byte.

    Raises
    ------
    InputError
        For a file that is unreadable, not UTF-8, a symlink out of the
        repository, or malformed.
    """
    docs: list[Document] = []
    for path in _files(app_dir, config):
        rel = f"{label}/{path.relative_to(app_dir).as_posix()}"
        if not inside(repo_root, path):
            msg = f"{rel}: symlink leaves the repository"
            raise InputError(msg)
        if not path.is_file():
            msg = f"{rel}: not a regular file"
            raise InputError(msg)
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            msg = f"{rel}: not UTF-8 text"
            raise InputError(msg) from None
        except OSError as exc:
            msg = f"{rel}: cannot read: {exc.strerror}"
            raise InputError(msg) from None
        exclude = glob.escape(path.relative_to(app_dir).as_posix())
        if path.suffix == ".json":
            docs.extend(_json_documents(text, rel, exclude))
            continue
        _check_yaml(text, rel, exclude)
        for doc in split_stream(text, rel):
            docs.extend(_expand_list(doc) if _LIST_KIND.search(doc.text) else [doc])
    return docs


def _not_an_object(rel: str, exclude: str) -> InputError:
    """Build the error for a file that is not a manifest, saying how to leave it out."""
    return InputError(
        f"{rel}: {_NOT_AN_OBJECT}; if the file is not a manifest, leave it out with "
        f"plain.exclude: ['{exclude}'] in {CONFIG_FILE}"
    )


def _check_yaml(text: str, rel: str, exclude: str) -> None:
    """Parse the whole file once (events only, C parser) before anything passes through.

    Malformed YAML, alias bombs and documents that are not Kubernetes objects are
    refused here.
    """
    try:
        outlines = outline_stream(text)
    except yaml.YAMLError as exc:
        line = yaml_error_line(exc)
        where = f":{line}" if line is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        msg = f"{rel}{where}: {problem}"
        raise InputError(msg) from None
    except AliasBombError as exc:
        msg = f"{rel}:{exc.line}: {exc} (an alias bomb)"
        raise InputError(msg) from None
    for outline in outlines:
        if outline.root == "null":
            continue
        if outline.root != "mapping" or not outline.keys >= _OBJECT_KEYS:
            raise _not_an_object(f"{rel}:{outline.line}", exclude)


def _json_documents(text: str, rel: str, exclude: str) -> list[Document]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        msg = f"{rel}:{exc.lineno}: invalid JSON: {exc.msg}"
        raise InputError(msg) from None
    except RecursionError:
        msg = f"{rel}: invalid JSON: nested too deeply"
        raise InputError(msg) from None
    if isinstance(data, list):
        items = [item for item in data if item is not None]
    elif data is None:
        return []
    elif (
        isinstance(data, dict)
        and data.get("kind") == "List"
        and isinstance(data.get("items"), list)
    ):
        items = [item for item in data["items"] if item is not None]
    else:
        _check_json_object(data, rel, exclude)
        return [Document(text if text.endswith("\n") else text + "\n", rel)]
    for item in items:
        _check_json_object(item, rel, exclude)
    return [_dump_json(item, rel) for item in items]


def _check_json_object(item: Any, rel: str, exclude: str) -> None:
    if not isinstance(item, dict) or not item.keys() >= _OBJECT_KEYS:
        raise _not_an_object(rel, exclude)


def _dump_json(item: Any, rel: str) -> Document:
    return Document(json.dumps(item, indent=2, ensure_ascii=False) + "\n", rel)


def _expand_list(doc: Document) -> list[Document]:
    try:
        data = yaml.load(doc.text, Loader=_Loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        line = yaml_error_line(exc)
        where = f":{line}" if line is not None else ""
        msg = f"{doc.source}{where}: invalid YAML in a List"
        raise InputError(msg) from None
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        return [doc]
    return [
        Document(
            yaml.dump(item, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1 << 16),
            doc.source,
        )
        for item in data["items"]
        if item is not None
    ]
