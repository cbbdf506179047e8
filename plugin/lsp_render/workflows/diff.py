"""``diff``: the rendered manifests of one application, between two environments or revisions.

Each side is rendered exactly as ``lsp-render render`` renders it (values
resolved in Helm values too, with ``resolveInValues``), and once more with
placeholders left in; comparing the two tells which values came from a secret
backend. Those, every value of a ``Secret``'s ``data`` and ``stringData``, and
every string holding any form of a value the render read (names, namespaces,
keys, labels, annotations; see ``masking``) are masked before anything is
printed, headers included.
Resources are matched by group, kind, namespace and name, and each
difference is printed as a unified diff of normalised YAML.

The old side is the one named by ``--against-env`` / ``--against-revision``;
the new side is ``--env`` in the working tree, as ``git diff REV`` reads.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lsp_render.core.context import SecretOptions
from lsp_render.core.errors import ExitCode, InputError, LspRenderError
from lsp_render.core.manifests import Document
from lsp_render.workflows.masking import (
    HIDDEN,
    ValuePath,
    all_leaf_paths,
    mask_keys,
    mask_one,
    mask_pair,
    scan_paths,
    secret_paths,
    secret_pattern,
    substituted_paths,
)
from lsp_render.workflows.resources import (
    ResourceKey,
    dump_resource,
    parse_document,
    unique_keys,
)

__all__ = [
    "DiffFailedError",
    "DiffResult",
    "ResourceDiff",
    "Side",
    "colorize",
    "diff_app",
    "diff_sides",
    "render_side",
]

_IDENTITY_KEYS = ("apiVersion", "kind", "metadata")


class DiffFailedError(LspRenderError):
    """A side of a diff could not be rendered (exit 2, as ``diff(1)`` reports trouble)."""

    exit_code = ExitCode.BAD_INPUT


@dataclass(frozen=True)
class Side:
    """One rendered side of a diff.

    Attributes
    ----------
    label
        How headers name the side (an environment, or a revision).
    resources
        Parsed object and secret value paths, by resource key (a key's name or
        namespace that holds a secret is masked).
    pattern
        Matches every form of the values this side read, or ``None``.
    """

    label: str
    resources: Mapping[ResourceKey, tuple[Any, frozenset[ValuePath]]]
    pattern: re.Pattern[str] | None = None


@dataclass(frozen=True)
class ResourceDiff:
    """The difference of one resource.

    Attributes
    ----------
    key
        The resource.
    status
        ``changed``, ``added`` or ``removed``.
    lines
        The unified diff, headers included, without line ends.
    """

    key: ResourceKey
    status: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class DiffResult:
    """The outcome of a diff.

    Attributes
    ----------
    diffs
        One entry per differing resource, sorted by key.
    notes
        Remarks for stderr (never a secret value).
    """

    diffs: tuple[ResourceDiff, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def different(self) -> bool:
        """Whether the two sides differ."""
        return bool(self.diffs)

    def summary(self) -> str:
        """Count the differences: ``2 changed, 1 added, 0 removed``."""
        counts = dict.fromkeys(("changed", "added", "removed"), 0)
        for item in self.diffs:
            counts[item.status] += 1
        return ", ".join(f"{count} {status}" for status, count in counts.items())


def _failed(exc: LspRenderError, side: str) -> LspRenderError:
    message = f"{side}: {exc.message}"
    if exc.exit_code >= ExitCode.BAD_INPUT:
        return type(exc)(message)
    return DiffFailedError(message)


def _align(raw: list[Any], final: list[Any]) -> list[frozenset[ValuePath]]:
    """Find, per final object, the values that substitution changed."""
    if len(raw) == len(final):
        return [
            frozenset(substituted_paths(before, after) | secret_paths(after))
            for before, after in zip(raw, final, strict=True)
        ]
    by_key = dict(zip(unique_keys(raw), raw, strict=True))
    out = []
    for key, obj in zip(unique_keys(final), final, strict=True):
        before = by_key.get(key)
        paths = substituted_paths(before, obj) if before is not None else _all_but_identity(obj)
        out.append(frozenset(paths | secret_paths(obj)))
    return out


def _all_but_identity(obj: Any) -> set[ValuePath]:
    if not isinstance(obj, dict):
        return all_leaf_paths(obj)
    return {path for path in all_leaf_paths(obj) if path[:1] and path[0] not in _IDENTITY_KEYS}


def render_side(
    app_dir: Path,
    *,
    env: str,
    environ: Mapping[str, str],
    secrets: SecretOptions,
    label: str,
    repo_root: Path | None = None,
    validate: bool = False,
    strict: bool = False,
) -> Side:
    """Render one side and find its secret values.

    Parameters
    ----------
    app_dir
        The application directory.
    env
        The environment.
    environ
        The environment variables (as for ``lsp-render render``).
    secrets
        Secret backend options.
    label
        How the side is named in headers and messages.
    repo_root
        The repository root (default: found from ``app_dir``).
    validate, strict
        Check the rendered objects against their schemas (``--validate``, ``--strict``).

    Raises
    ------
    LspRenderError
        When the render fails (exit 2, or the render's own code when it is 2 or more);
        a side that breaks its schemas counts as failed.
    """
    from lsp_render import pipeline
    from lsp_render.argocd.request import build_request
    from lsp_render.secrets.recorder import recording

    try:
        raw_request = build_request(
            app_dir,
            environ=environ,
            env=env,
            secrets=SecretOptions(no_secrets=True),
            repo_root=repo_root,
        )
        real_request = dataclasses.replace(raw_request, secrets=secrets)
        try:
            raw_docs: list[Document] | None = pipeline.render(raw_request)
        except LspRenderError:
            if secrets.no_secrets:
                raise
            raw_docs = None  # e.g. resolveInValues with a values schema: placeholders refused
        seen: list[Mapping[str, Any]] = []
        if secrets.no_secrets:
            final_docs = raw_docs or []
        else:
            with recording() as seen:
                final_docs = pipeline.render(real_request)  # exactly what `render` prints
        if validate or strict:
            from lsp_render.workflows.validation import validate_documents

            validate_documents(
                final_docs, kube_version=real_request.kube_version, strict=strict, label=label
            )
        final = [parse_document(doc) for doc in final_docs]
        pattern = secret_pattern(seen)
        if raw_docs is None:
            paths = [frozenset(_all_but_identity(obj) | secret_paths(obj)) for obj in final]
        else:
            paths = _align([parse_document(doc) for doc in raw_docs], final)
        paths = [
            frozenset(found | scan_paths(obj, pattern))
            for found, obj in zip(paths, final, strict=True)
        ]
    except LspRenderError as exc:
        raise _failed(exc, label) from None
    # Keys from the masked objects: a name or namespace built from a secret never
    # reaches a header.
    keys = unique_keys(
        [mask_one(obj, found, HIDDEN) for obj, found in zip(final, paths, strict=True)]
    )
    return Side(label, dict(zip(keys, zip(final, paths, strict=True), strict=True)), pattern)


def _header(key: ResourceKey, side: Side) -> str:
    return f"{key} ({side.label})"


def diff_sides(old: Side, new: Side, *, context: int = 3) -> list[ResourceDiff]:
    """Compare two sides resource by resource, masking secret values.

    Parameters
    ----------
    old, new
        The sides (``-`` and ``+``).
    context
        Lines of context around each change.

    Returns
    -------
    list of ResourceDiff
        The differing resources, sorted by key.
    """
    out = []
    patterns = [p for p in (old.pattern, new.pattern) if p is not None]

    def also(obj: Any, paths: frozenset[ValuePath]) -> frozenset[ValuePath]:
        # A value one side read may stand in the other side too.
        return frozenset(paths.union(*(scan_paths(obj, p) for p in patterns)))

    def keys_masked(obj: Any) -> Any:
        for pattern in patterns:
            obj = mask_keys(obj, pattern)
        return obj

    for key in sorted(set(old.resources) | set(new.resources)):
        before = old.resources.get(key)
        after = new.resources.get(key)
        if before is not None and after is not None:
            masked_old, masked_new = mask_pair(before[0], after[0], also(*before), also(*after))
            old_text = dump_resource(keys_masked(masked_old))
            new_text = dump_resource(keys_masked(masked_new))
            if old_text == new_text:
                continue
            status, from_file, to_file = (
                "changed",
                f"a/{_header(key, old)}",
                f"b/{_header(key, new)}",
            )
        elif after is not None:
            masked = keys_masked(mask_one(after[0], also(*after), HIDDEN))
            old_text, new_text = "", dump_resource(masked)
            status, from_file, to_file = "added", "/dev/null", f"b/{_header(key, new)}"
        elif before is not None:
            masked = keys_masked(mask_one(before[0], also(*before), HIDDEN))
            old_text, new_text = dump_resource(masked), ""
            status, from_file, to_file = "removed", f"a/{_header(key, old)}", "/dev/null"
        else:  # pragma: no cover - the key came from one of them
            continue
        lines = difflib.unified_diff(
            old_text.splitlines(),
            new_text.splitlines(),
            fromfile=from_file,
            tofile=to_file,
            n=context,
            lineterm="",
        )
        out.append(ResourceDiff(key, status, tuple(lines)))
    return out


_COLORS = {"---": "\x1b[1m", "+++": "\x1b[1m", "@@": "\x1b[36m", "-": "\x1b[31m", "+": "\x1b[32m"}
_RESET = "\x1b[0m"


def colorize(line: str) -> str:
    """Colour one diff line as ``git diff`` does (headers bold, hunks cyan, -/+ red/green)."""
    for prefix in ("---", "+++", "@@", "-", "+"):
        if line.startswith(prefix):
            return f"{_COLORS[prefix]}{line}{_RESET}"
    return line


def diff_app(
    app_dir: Path,
    *,
    env: str,
    environ: Mapping[str, str],
    secrets: SecretOptions,
    against_env: str | None = None,
    against_revision: str | None = None,
    context: int = 3,
    validate: bool = False,
    strict: bool = False,
) -> DiffResult:
    """Diff one application against another environment or a git revision.

    Parameters
    ----------
    app_dir
        The application directory (in the working tree).
    env
        The environment of the new side.
    environ
        The environment variables.
    secrets
        Secret backend options (both sides).
    against_env
        The old side's environment (exclusive with ``against_revision``).
    against_revision
        The old side's git revision, rendered with ``env`` from a scratch checkout.
    context
        Lines of context.
    validate, strict
        Check the new side against its schemas (``--validate``, ``--strict``).

    Returns
    -------
    DiffResult
        The differences.

    Raises
    ------
    InputError
        On bad usage (neither or both of ``against_env`` and ``against_revision``).
    LspRenderError
        When a side cannot be rendered (exit 2 or more).
    """
    if (against_env is None) == (against_revision is None):
        msg = "give exactly one of --against-env and --against-revision"
        raise InputError(msg)
    if not app_dir.is_dir():
        msg = f"{app_dir}: no such application directory"
        raise InputError(msg)
    app_dir = app_dir.resolve()
    if against_env is not None:
        new = render_side(
            app_dir,
            env=env,
            environ=environ,
            secrets=secrets,
            label=env,
            validate=validate,
            strict=strict,
        )
        old = render_side(
            app_dir, env=against_env, environ=environ, secrets=secrets, label=against_env
        )
        return DiffResult(tuple(diff_sides(old, new, context=context)))
    assert against_revision is not None  # noqa: S101 - checked above
    return _diff_revision(
        app_dir,
        env=env,
        environ=environ,
        secrets=secrets,
        revision=against_revision,
        context=context,
        checks=(validate, strict),
    )


def _diff_revision(
    app_dir: Path,
    *,
    env: str,
    environ: Mapping[str, str],
    secrets: SecretOptions,
    revision: str,
    context: int,
    checks: tuple[bool, bool] = (False, False),
) -> DiffResult:
    from lsp_render.core.paths import find_repo_root
    from lsp_render.workflows.revision import checkout_revision, git_toplevel

    top = git_toplevel(app_dir, environ)
    repo_root = find_repo_root(app_dir, environ)
    try:
        app_rel = app_dir.relative_to(top)
        root_rel = repo_root.relative_to(top)
    except ValueError:
        msg = f"{app_dir}: the application is not inside the git work tree {top}"
        raise InputError(msg) from None
    new = render_side(
        app_dir,
        env=env,
        environ=environ,
        secrets=secrets,
        label=f"working tree, {env}",
        validate=checks[0],
        strict=checks[1],
    )
    with checkout_revision(top, revision, environ) as (tree, commit):
        label = (
            f"{revision} {commit[:12]}, {env}" if revision != commit else f"{commit[:12]}, {env}"
        )
        old_dir = tree / app_rel
        if not old_dir.is_dir():
            note = f"{app_rel.as_posix()} does not exist at {revision}: every resource is new"
            old = Side(label, {})
            return DiffResult(tuple(diff_sides(old, new, context=context)), (note,))
        old = render_side(
            old_dir,
            env=env,
            environ=environ,
            secrets=secrets,
            label=label,
            repo_root=tree / root_rel,
        )
    return DiffResult(tuple(diff_sides(old, new, context=context)))
