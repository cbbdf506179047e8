"""The file backend (``--secrets-file``): secrets from a YAML file, for laptops, examples and tests.

The file is a mapping from secret path, as written in placeholders, to a mapping
of keys to values::

    secret/data/app:            # or secret/app: both spellings match both
      username: admin
      port: 5432
    secret/data/app#1:          # version 1 of it (read by <path:secret/data/app#username#1>)
      username: old-admin
    kv/legacy:
      token: abc

- A path matches with or without ``/data/`` after its first segment (KV v2's API
  segment), and leading or trailing slashes do not matter.
- ``PATH#N`` holds version ``N``. A read without a version gets ``PATH``, or,
  when only versions are given, the highest one.
- A placeholder's path that the file lacks reads as ``Could not find secrets at
  path PATH``; a version it lacks as AVP's deleted-version message.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from lsp_render.core.errors import InputError
from lsp_render.core.yamlfile import yaml_error_line
from lsp_render.secrets.backend import SecretRef, SecretResult

__all__ = ["FileBackend", "normalise_path"]


def normalise_path(path: str) -> str:
    """Return the one spelling a path has here: no outer slashes, no ``data`` second segment.

    Parameters
    ----------
    path
        A secret path as written (``secret/data/app``, ``/secret/app/``).

    Returns
    -------
    str
        ``secret/app`` for both examples.
    """
    parts = [part for part in path.strip().strip("/").split("/") if part]
    if len(parts) > 2 and parts[1] == "data":
        del parts[1]
    return "/".join(parts)


class FileBackend:
    """Secrets read from one YAML file (see the module documentation for its form).

    Parameters
    ----------
    secrets
        Normalised path -> version (``None`` for the unversioned entry) -> data.
    source
        The file, for messages.
    """

    def __init__(
        self, secrets: Mapping[str, Mapping[int | None, Mapping[str, Any]]], source: str
    ) -> None:
        self._secrets = secrets
        self._source = source

    @classmethod
    def from_file(cls, path: Path) -> FileBackend:
        """Load the secrets file.

        Parameters
        ----------
        path
            The ``--secrets-file``.

        Returns
        -------
        FileBackend
            The backend.

        Raises
        ------
        InputError
            The file cannot be read, is not YAML, or is not a mapping of paths to
            mappings.
        """
        import yaml

        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise InputError(
                f"{path}: cannot read the secrets file ({err.__class__.__name__})"
            ) from None
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        try:
            data = yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader
        except yaml.YAMLError as err:
            line = yaml_error_line(err)
            where = f" at line {line}" if line is not None else ""
            raise InputError(f"{path}: the secrets file is not valid YAML{where}") from None
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise InputError(
                f"{path}: the secrets file must map secret paths to key/value mappings"
            )
        secrets: dict[str, dict[int | None, Mapping[str, Any]]] = {}
        for raw_key, entry in data.items():
            key = str(raw_key)
            if not isinstance(entry, Mapping):
                raise InputError(f"{path}: {key} must be a mapping of keys to values")
            name, _, version_text = key.partition("#")
            version: int | None = None
            if version_text:
                if not version_text.strip().isdigit():
                    raise InputError(f"{path}: {key}: the version after # must be a number")
                version = int(version_text)
            normalised = normalise_path(name)
            if not normalised:
                raise InputError(f"{path}: {key}: empty secret path")
            versions = secrets.setdefault(normalised, {})
            if version in versions:
                raise InputError(f"{path}: {key}: the same secret is given twice")
            versions[version] = {str(k): v for k, v in entry.items()}
        return cls(secrets, str(path))

    def read(self, refs: Collection[SecretRef]) -> dict[SecretRef, SecretResult]:
        """Return one result per reference.

        Parameters
        ----------
        refs
            The secrets of a render.

        Returns
        -------
        dict
            ``SecretRef`` -> ``SecretResult``.
        """
        return {ref: self._read(ref) for ref in refs}

    def _read(self, ref: SecretRef) -> SecretResult:
        versions = self._secrets.get(normalise_path(ref.path))
        if versions is None:
            return SecretResult(None, f"Could not find secrets at path {ref.path}")
        if ref.version is not None:
            data = versions.get(int(ref.version)) if ref.version.isdigit() else None
            if data is None:
                return SecretResult(
                    None,
                    f"The secret version {ref.version} for Vault path {ref.path} is nil - "
                    "is this version of the secret deleted?",
                )
            return SecretResult(data, None)
        if None in versions:
            return SecretResult(versions[None], None)
        latest = max(version for version in versions if version is not None)
        return SecretResult(versions[latest], None)

    def close(self) -> None:
        """Nothing to release."""
