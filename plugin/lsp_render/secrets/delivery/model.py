"""What an operator must deliver: one v1 Secret holding placeholders, read into plain data.

Both operator modes start here. A Secret is parsed into its identity (name,
namespace, type, labels, annotations) and its keys; a key without placeholders
is a literal, a key with placeholders is a list of literal text and
:class:`Use` values, each naming the Vault mount, the path under it, the KV
version, the secret version and the key it reads, with its modifiers.

Rules:

- placeholders may stand only in ``data`` and ``stringData`` (an operator fills
  a Secret's data, nothing else of it); a placeholder anywhere else fails
  (``RenderError``, exit 1), naming the object and the field;
- a ``data`` value that is base64 of text holding placeholders (Kustomize's
  secretGenerator) is read as that text; a placeholder written directly in
  ``data`` gives the base64 of the Secret's bytes, so a whole-value placeholder
  ending in ``| base64encode`` is the raw value and one without it is decoded
  (``decode``); text mixed with placeholders there is refused (exit 2);
- the mount is the first segment of the path (or the longest configured mount
  that the path starts with); for KV v2 a ``data/`` after it is dropped; the KV
  version comes from ``avp.kubernetes.io/kv-version``, else ``AVP_KV_VERSION``,
  else 2 (AVP's default);
- JSON-escaped placeholders (Helm's ``toJson``) are refused (exit 2): an
  operator template cannot escape a value for JSON the way lsp-render does;
- ``avp.kubernetes.io/*`` annotations are instructions to lsp-render and are
  left out of the emitted object.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from lsp_render.core.errors import InputError, RenderError
from lsp_render.secrets.modifiers import Modifier
from lsp_render.secrets.placeholders import PlaceholderSyntaxError, find_placeholders
from lsp_render.secrets.scan import ANNOTATION_PREFIX

__all__ = [
    "LiteralValue",
    "SecretKey",
    "SecretSpec",
    "Source",
    "Use",
    "escape_template_text",
    "go_string",
    "one_source",
    "read_secret",
    "refuse_outside",
]


@dataclass(frozen=True, slots=True)
class Source:
    """One Vault secret, as an operator reads it.

    Attributes
    ----------
    path
        The path as written in the placeholder (for messages).
    mount
        The secrets engine mount (``secret``).
    sub
        The path under the mount, without KV v2's ``data/``.
    kv
        1 or 2.
    version
        The secret version (``"3"``), or ``None`` for the latest.
    """

    path: str
    mount: str
    sub: str
    kv: int
    version: str | None


@dataclass(frozen=True, slots=True)
class Use:
    """One placeholder of a Secret's value.

    Attributes
    ----------
    source
        The Vault secret it reads.
    key
        The key in that secret.
    modifiers
        The modifier chain, in order.
    label
        The placeholder as written (``<path:secret/data/x#key>``), for messages.
    """

    source: Source
    key: str
    modifiers: tuple[Modifier, ...]
    label: str


@dataclass(frozen=True, slots=True)
class LiteralValue:
    """Bytes of a Secret key that holds no placeholder (its text when it is UTF-8)."""

    data: bytes

    @property
    def text(self) -> str | None:
        """Return the value as text, or ``None`` when it is not UTF-8."""
        try:
            return self.data.decode("utf-8")
        except UnicodeDecodeError:
            return None


@dataclass(frozen=True, slots=True)
class SecretKey:
    """One key of the Secret.

    Attributes
    ----------
    name
        The key.
    field
        ``data`` or ``stringData``.
    parts
        The value: literal text and placeholders in order (empty for a literal key).
    literal
        The value of a key without placeholders, else ``None``.
    decode
        The Secret's bytes are the base64 decoding of the substituted value (a
        placeholder written directly in ``data``).
    """

    name: str
    field: str
    parts: tuple[str | Use, ...] = ()
    literal: LiteralValue | None = None
    decode: bool = False

    @property
    def uses(self) -> list[Use]:
        """Return the placeholders of the value, in order."""
        return [part for part in self.parts if isinstance(part, Use)]

    @property
    def whole(self) -> Use | None:
        """Return the placeholder when it is the whole value, else ``None``."""
        if len(self.parts) == 1 and isinstance(self.parts[0], Use):
            return self.parts[0]
        return None


@dataclass(frozen=True, slots=True)
class SecretSpec:
    """A v1 Secret holding placeholders.

    Attributes
    ----------
    label
        ``Secret/name (source)``, for messages.
    name, namespace
        Its identity (``namespace`` ``None`` when the Secret has none).
    type
        Its ``type`` (``None`` when not given: ``Opaque``).
    labels, annotations
        Its metadata, without ``avp.kubernetes.io/*`` annotations.
    immutable
        Its ``immutable`` field, or ``None``.
    keys
        Its keys, ``data`` first then ``stringData`` (a ``stringData`` key wins
        over the same key of ``data``, as the API server merges them).
    """

    label: str
    name: str
    namespace: str | None
    type: str | None
    labels: dict[str, str]
    annotations: dict[str, str]
    immutable: bool | None
    keys: tuple[SecretKey, ...]

    @property
    def uses(self) -> list[Use]:
        """Return every placeholder of the Secret, in key order."""
        return [use for key in self.keys for use in key.uses]


def escape_template_text(text: str, delims: tuple[str, str] = ("{{", "}}")) -> str:
    """Return ``text`` as Go template text that prints exactly ``text``.

    Text without the left delimiter needs no escape; otherwise the text is
    written as a Go string literal in an action (JSON's string escapes are Go's).

    Parameters
    ----------
    text
        Literal text.
    delims
        The template's delimiters (``{{ }}``; ricoberger's operator uses ``{% %}``).

    Returns
    -------
    str
        Template text.
    """
    if delims[0] not in text:
        return text
    return f"{delims[0]} {go_string(text)} {delims[1]}"


def go_string(text: str) -> str:
    r"""Return ``text`` as a Go string literal.

    JSON's escapes are Go's, except that Go refuses ``\u`` escapes of UTF-16
    surrogate halves, so characters outside ASCII are written as themselves.
    """
    import json

    return json.dumps(text, ensure_ascii=False)


def _str_map(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InputError(f"{where} must be a mapping")
    out = {}
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise InputError(f"{where}: {key!r} must map a string to a string")
        out[key] = item
    return out


def _kv_version(annotations: Mapping[str, str], environ: Mapping[str, str], label: str) -> int:
    name = ANNOTATION_PREFIX + "kv-version"
    text, where = annotations.get(name), f"{label}: {name}"
    if text is None:
        text, where = environ.get("AVP_KV_VERSION") or "2", "AVP_KV_VERSION"
    if text.strip() not in ("1", "2"):
        raise InputError(f"{where}: KV version must be 1 or 2, not {text!r}")
    return int(text)


@dataclass(frozen=True, slots=True)
class _Context:
    label: str
    kv: int
    generic_path: str | None
    generic_version: str | None
    mounts: Collection[str]


def _source(path: str, version: str | None, ctx: _Context, where: str) -> Source:
    clean = path.strip().strip("/")
    mount = next(
        (m for m in sorted(ctx.mounts, key=len, reverse=True) if clean.startswith(m + "/")),
        clean.partition("/")[0],
    )
    sub = clean[len(mount) + 1 :]
    if ctx.kv == 2 and sub.startswith("data/"):
        sub = sub[len("data/") :]
    if not sub:
        raise InputError(f"{where}: Vault path {path!r} names no secret under its mount {mount!r}")
    if ctx.kv == 1 and version is not None:
        raise InputError(
            f"{where}: Vault path {path} is on a KV v1 mount, which has no version {version}"
        )
    return Source(path=path, mount=mount, sub=sub, kv=ctx.kv, version=version)


def _parts(text: str, ctx: _Context, where: str) -> tuple[str | Use, ...]:
    generic = ctx.generic_path is not None
    try:
        found = find_placeholders(text, generic=generic)
    except PlaceholderSyntaxError as err:
        raise InputError(f"{where}: {err}") from None
    parts: list[str | Use] = []
    pos = 0
    for placeholder in found:
        if placeholder.escaped:
            raise InputError(
                f"{where}: JSON-escaped placeholder {placeholder.label} cannot be delivered by "
                "an operator (write the placeholder unescaped in the Secret)"
            )
        if placeholder.start > pos:
            parts.append(text[pos : placeholder.start])
        if placeholder.path is not None:
            source = _source(placeholder.path, placeholder.version, ctx, where)
        else:
            assert ctx.generic_path is not None  # noqa: S101 - generic only then
            source = _source(ctx.generic_path, ctx.generic_version, ctx, where)
        parts.append(Use(source, placeholder.key, placeholder.modifiers, placeholder.label))
        pos = placeholder.end
    if found and pos < len(text):
        parts.append(text[pos:])
    return tuple(parts)


def _decoded(value: str) -> str | None:
    try:
        return base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None


def _key(name: str, field: str, value: Any, ctx: _Context) -> SecretKey:
    where = f"{ctx.label}: {field}.{name}"
    if not isinstance(value, str):
        raise InputError(f"{where} must be a string")
    if field == "stringData":
        parts = _parts(value, ctx, where)
        if parts:
            return SecretKey(name, field, parts=parts)
        return SecretKey(name, field, literal=LiteralValue(value.encode("utf-8")))
    text = _decoded(value)
    if text is not None:
        parts = _parts(text, ctx, where)
        if parts:
            return SecretKey(name, field, parts=parts)
    parts = _parts(value, ctx, where)
    if not parts:
        try:
            data = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise InputError(f"{where} is not base64") from None
        return SecretKey(name, field, literal=LiteralValue(data))
    whole = parts[0] if len(parts) == 1 else None
    if not isinstance(whole, Use):
        raise InputError(
            f"{where}: text mixed with placeholders in data must be base64 as a whole; "
            "write it in stringData"
        )
    if whole.modifiers and whole.modifiers[-1].name == "base64encode":
        trimmed = Use(whole.source, whole.key, whole.modifiers[:-1], whole.label)
        return SecretKey(name, field, parts=(trimmed,))
    return SecretKey(name, field, parts=parts, decode=True)


def read_secret(
    obj: Mapping[str, Any],
    *,
    label: str,
    environ: Mapping[str, str],
    mounts: Collection[str] = (),
) -> SecretSpec:
    """Read a v1 Secret holding placeholders.

    Parameters
    ----------
    obj
        The parsed Secret.
    label
        ``Secret/name (source)``.
    environ
        The sidecar's environment (``AVP_KV_VERSION``).
    mounts
        Configured mounts (possibly of several segments) to match paths against.

    Returns
    -------
    SecretSpec
        The Secret.

    Raises
    ------
    InputError
        A malformed placeholder or Secret, a version on KV v1, a JSON-escaped
        placeholder or text mixed with placeholders in ``data`` (exit 2).
    """
    metadata = obj.get("metadata")
    if not isinstance(metadata, Mapping) or not isinstance(metadata.get("name"), str):
        raise InputError(f"{label}: a Secret needs metadata.name")
    annotations = _str_map(metadata.get("annotations"), f"{label}: metadata.annotations")
    path = annotations.get(ANNOTATION_PREFIX + "path")
    version = annotations.get(ANNOTATION_PREFIX + "secret-version")
    if version is not None and not version.strip().isdigit():
        raise InputError(f"{label}: {ANNOTATION_PREFIX}secret-version must be a number")
    ctx = _Context(
        label=label,
        kv=_kv_version(annotations, environ, label),
        generic_path=path.strip() if path is not None else None,
        generic_version=version.strip() if version is not None else None,
        mounts=mounts,
    )
    keys: dict[str, SecretKey] = {}
    for field in ("data", "stringData"):
        section = obj.get(field)
        if section is None:
            continue
        if not isinstance(section, Mapping):
            raise InputError(f"{label}: {field} must be a mapping")
        for name, value in section.items():
            keys.pop(str(name), None)
            keys[str(name)] = _key(str(name), field, value, ctx)
    secret_type = obj.get("type")
    immutable = obj.get("immutable")
    namespace = metadata.get("namespace")
    return SecretSpec(
        label=label,
        name=metadata["name"],
        namespace=namespace if isinstance(namespace, str) else None,
        type=secret_type if isinstance(secret_type, str) else None,
        labels=_str_map(metadata.get("labels"), f"{label}: metadata.labels"),
        annotations={k: v for k, v in annotations.items() if not k.startswith(ANNOTATION_PREFIX)},
        immutable=immutable if isinstance(immutable, bool) else None,
        keys=tuple(keys.values()),
    )


def refuse_outside(label: str, field: str, placeholder: str, mode: str) -> RenderError:
    """Return the error for a placeholder an operator cannot deliver.

    Parameters
    ----------
    label
        ``Kind/name (source)``.
    field
        Where the placeholder stands (``data.config``).
    placeholder
        The placeholder, for the message.
    mode
        The delivery mode.

    Returns
    -------
    RenderError
        Exit 1.
    """
    return RenderError(
        f"{label}: placeholder {placeholder} in {field} cannot be delivered by {mode}: "
        "an operator fills only the data and stringData of v1 Secrets"
    )


def _describe(source: Source) -> str:
    version = f" (version {source.version})" if source.version is not None else ""
    return f"{source.path}{version}"


def one_source(spec: SecretSpec, resource: str) -> Source:
    """Return the one Vault secret ``spec`` draws from, for operators that copy one secret.

    Parameters
    ----------
    spec
        The Secret.
    resource
        The operator's resource, for the message (``a VaultStaticSecret``).

    Returns
    -------
    Source
        The secret.

    Raises
    ------
    InputError
        The Secret draws from several paths or versions (exit 2).
    """
    sources = list(dict.fromkeys(use.source for use in spec.uses))
    if len({(s.mount, s.sub, s.kv, s.version) for s in sources}) > 1:
        raise InputError(
            f"{spec.label}: {resource} copies one Vault secret, but this Secret draws "
            f"from {_describe(sources[0])} and {_describe(sources[1])}; split the Secret or use "
            "delivery: external-secrets"
        )
    return sources[0]
