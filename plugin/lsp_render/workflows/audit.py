"""``secrets audit``: check that every secret a deployment repository names exists in Vault.

Every (application, environment) pair is rendered as ``render-all`` renders it
(in ``jobs`` worker processes), with the placeholders left as they are (whatever
the delivery mode). Each placeholder is recorded with its path, key and version
and who uses it (the application, the environment, the file and the object).
Then Vault is asked once
per distinct secret (path and version: the Vault backend's deduplication, one
read each, concurrently) whether it exists and holds the key. No value is ever
kept beyond that check, and none is printed: the report names paths and keys only.

Outcome: ``missing`` lists each ``path#key`` (``#version``) that does not exist,
with its users (a key under ``avp.kubernetes.io/remove-missing`` may be absent,
its path may not); a pair that fails to render is listed in ``failed``. The command
exits 0 when nothing is missing or failed, 1 otherwise, and 3 when Vault cannot
be reached (``BackendUnavailableError``).
"""

from __future__ import annotations

import json
import multiprocessing
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path
from typing import Any

from lsp_render.core.context import SecretOptions
from lsp_render.core.errors import ExitCode, LspRenderError, innermost_frame
from lsp_render.secrets.backend import SecretRef, SecretResult
from lsp_render.workflows.discovery import Pair, discover_pairs
from lsp_render.workflows.worker import PER_APP_VARIABLES

__all__ = ["AuditReport", "Usage", "audit", "format_json", "format_text"]


@dataclass(frozen=True, slots=True)
class Usage:
    """One placeholder in one rendered object.

    Attributes
    ----------
    path, key, version
        What it reads (``version`` ``None`` for the latest).
    app, env
        The application (relative to the audit root) and environment (or ``None``).
    file
        The file or template the object came from.
    object
        ``Kind/name`` of the object.
    optional
        Under ``avp.kubernetes.io/remove-missing``: a missing key is dropped at
        render time, so only a missing path counts.
    """

    path: str
    key: str
    version: str | None
    app: str
    env: str | None
    file: str
    object: str
    optional: bool = False

    @property
    def secret(self) -> str:
        """Name the secret key: ``path#key`` or ``path#key#version``."""
        suffix = f"#{self.version}" if self.version is not None else ""
        return f"{self.path}#{self.key}{suffix}"

    def as_dict(self) -> dict[str, Any]:
        """Return the usage as JSON-ready data."""
        return {
            "path": self.path,
            "key": self.key,
            "version": self.version,
            "app": self.app,
            "env": self.env,
            "file": self.file,
            "object": self.object,
            "optional": self.optional,
        }


@dataclass(slots=True)
class AuditReport:
    """What the audit found.

    Attributes
    ----------
    usages
        Every placeholder found.
    missing
        ``path#key`` (with version) to the reason and its users, for each missing one.
    failed
        Pair label to the one-line error of a pair that did not render.
    reads
        Distinct secrets (path and version) checked.
    """

    usages: list[Usage] = field(default_factory=list)
    missing: dict[str, tuple[str, list[Usage]]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    reads: int = 0

    @property
    def exit_code(self) -> int:
        """0 when every secret exists and every pair rendered, else 1."""
        return int(ExitCode.RENDER_FAILED if self.missing or self.failed else ExitCode.OK)


def _object(label: str) -> tuple[str, str]:
    """Split ``Kind/name (source)`` into ``Kind/name`` and the source."""
    head, sep, rest = label.partition(" (")
    return (head, rest[:-1]) if sep and rest.endswith(")") else (label, "")


def _usages(pair: Pair, environ: Mapping[str, str]) -> list[tuple[Usage, SecretRef]]:
    from lsp_render.argocd.request import build_request
    from lsp_render.pipeline import render
    from lsp_render.secrets.document import plan_document
    from lsp_render.secrets.scan import is_candidate

    request = build_request(
        pair.app_dir, environ=environ, env=pair.env, secrets=SecretOptions(no_secrets=True)
    )
    found = []
    for doc in render(request, substitute=False):
        if not is_candidate(doc.text):
            continue
        plan = plan_document(doc, environ)
        if plan is None:
            continue
        name, _source = _object(plan.label)
        for site in plan.sites:
            for bound in site.bounds:
                ref = bound.ref
                usage = Usage(
                    ref.path,
                    bound.placeholder.key,
                    ref.version,
                    pair.rel,
                    pair.env,
                    doc.source,
                    name,
                    optional=site.key_node is not None,  # remove-missing
                )
                found.append((usage, ref))
    return found


def _pair_usages(pair: Pair, environ: Mapping[str, str]) -> list[tuple[Usage, SecretRef]] | str:
    """Return the placeholders of one pair, or the one-line reason it failed to render."""
    try:
        return _usages(pair, environ)
    except LspRenderError as exc:
        return exc.message
    except Exception as exc:
        return f"internal error ({type(exc).__name__} at {innermost_frame(exc)}); please report it"


def _init_worker() -> None:
    """Give the helm binaries each worker starts one CPU, as render-all's workers do."""
    os.environ.setdefault("GOMAXPROCS", "1")


def _all_usages(
    pairs: Sequence[Pair], environ: Mapping[str, str], jobs: int
) -> list[list[tuple[Usage, SecretRef]] | str]:
    """Render every pair, ``jobs`` at a time (1: in this process), in pair order."""
    workers = min(jobs, len(pairs))
    if workers <= 1:
        return [_pair_usages(pair, environ) for pair in pairs]
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_init_worker
    ) as pool:
        return list(pool.map(_pair_usages, pairs, repeat(environ)))


def _check(usage: Usage, result: SecretResult | None) -> str | None:
    """Return why ``usage`` is missing, or ``None`` when its key exists."""
    if result is None or result.data is None:
        return (result.error if result is not None else None) or "path not found"
    if usage.key not in result.data and not usage.optional:
        return "key not found"
    return None


def audit(
    root: Path, *, environ: Mapping[str, str], envs: Sequence[str] = (), jobs: int = 1
) -> AuditReport:
    """Audit every placeholder of the repository under ``root`` against Vault.

    Parameters
    ----------
    root
        The repository (or part of it), as for ``render-all``.
    environ
        The environment: Vault's variables (``VAULT_ADDR``, credentials); the
        Argo CD variables naming one application are dropped.
    envs
        Only these environments (empty: all).
    jobs
        Worker processes rendering the pairs (1: in this process).

    Returns
    -------
    AuditReport
        The placeholders, the missing secrets and the pairs that failed.

    Raises
    ------
    InputError
        No application found, or a malformed repository configuration.
    BackendUnavailableError
        Vault is not configured or cannot be reached (exit 3).
    """
    env = {
        k: v
        for k, v in environ.items()
        if k not in PER_APP_VARIABLES and not k.startswith("ARGOCD_ENV_")
    }
    report = AuditReport()
    refs: dict[Usage, SecretRef] = {}
    pairs = discover_pairs(root.resolve(), env, envs)
    for pair, found in zip(pairs, _all_usages(pairs, env, jobs), strict=True):
        if isinstance(found, str):
            report.failed[pair.label] = found
            continue
        for usage, ref in found:
            if usage not in refs:
                report.usages.append(usage)
                refs[usage] = ref
    if not refs:
        return report
    results = _read(set(refs.values()), env)
    report.reads = len({(ref.path, ref.version) for ref in refs.values()})
    for usage in report.usages:
        reason = _check(usage, results.get(refs[usage]))
        if reason is not None:
            entry = report.missing.setdefault(usage.secret, (reason, []))
            entry[1].append(usage)
    return report


def _read(refs: set[SecretRef], environ: Mapping[str, str]) -> Mapping[SecretRef, SecretResult]:
    from lsp_render.core.errors import BackendUnavailableError

    if not environ.get("VAULT_ADDR"):
        msg = "secrets audit needs Vault: set VAULT_ADDR (with Vault credentials)"
        raise BackendUnavailableError(msg)
    from lsp_render.secrets.backends.vault import VaultBackend

    backend = VaultBackend.from_environ(environ, role=None)
    try:
        return backend.read(refs)
    finally:
        backend.close()


def _who(usage: Usage) -> str:
    where = f"{usage.env}/{usage.app}" if usage.env is not None else usage.app
    return f"{where} ({usage.file}, {usage.object})"


def format_text(report: AuditReport) -> str:
    """Return the report for a terminal: one line per missing secret and failed pair."""
    lines = []
    for secret in sorted(report.missing):
        reason, users = report.missing[secret]
        lines.append(f"MISSING {secret}: {reason}; used by {', '.join(map(_who, users))}")
    lines.extend(f"FAILED {label}: {message}" for label, message in sorted(report.failed.items()))
    secrets = len({u.secret for u in report.usages})
    lines.append(
        f"{len(report.usages)} placeholders, {secrets} secret keys, {report.reads} Vault reads: "
        f"{len(report.missing)} missing, {len(report.failed)} failed to render"
    )
    return "\n".join(lines) + "\n"


def format_json(report: AuditReport) -> str:
    """Return the report as one JSON document (for CI)."""
    data = {
        "ok": report.exit_code == 0,
        "placeholders": [u.as_dict() for u in report.usages],
        "missing": [
            {"secret": secret, "reason": reason, "usedBy": [u.as_dict() for u in users]}
            for secret, (reason, users) in sorted(report.missing.items())
        ],
        "failed": [{"pair": k, "error": v} for k, v in sorted(report.failed.items())],
        "vaultReads": report.reads,
    }
    return json.dumps(data, indent=2, sort_keys=True) + "\n"
