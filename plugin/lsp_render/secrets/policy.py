"""Operator policy (SPEC section 7): which Vault paths an Argo CD project may read.

The file named by ``LSP_RENDER_POLICY`` in the sidecar's own environment (never
``ARGOCD_ENV_*``, never a file of the repository: the name must be absolute)::

    projects:
      team-a:
        paths: ["secret/data/team-a/*", "secret/data/shared/ca"]
        role: team-a-reader
      "*":
        paths: ["secret/data/{{ app.project }}/*"]

Rules, checked before any Vault request:

- No ``LSP_RENDER_POLICY``: every path is allowed and the role is ``None`` (the
  sidecar's own); paths are not checked here (the Vault backend still refuses
  ``.``/``..``/empty segments as invalid paths).
- The app's project picks its entry, else ``"*"``; a project with neither may
  read nothing.
- Each pattern is a Jinja2 template over ``app.*`` (``name``, ``namespace``,
  ``project``, ``revision``), rendered in a sandbox; the values are inserted
  glob-escaped, so a project named ``*`` cannot widen a pattern.
- Patterns are shell-style, case-sensitive, and ``*`` also matches ``/``.
- A path is matched as written, after these refusals (``PolicyError``): empty,
  a leading ``/``, ``//`` or a trailing ``/``, a ``.`` or ``..`` segment, a
  backslash, ``%``, ``?``, ``#`` or a control character.
- ``data/`` equivalence: KV v2 paths may be written with or without ``/data/``
  after the mount (``secret/team-a/x`` and ``secret/data/team-a/x`` are the same
  KV v2 secret). Patterns use the form Vault's own ACL policies use, with
  ``data/`` for KV v2 mounts; a path written without it is also tried with
  ``data/`` after its first segment (the mount), so ``secret/data/team-a/*``
  allows ``secret/team-a/x``. The reverse is not done: a pattern without
  ``data/`` (``kv/team-a/*``, the KV v1 form) does not allow
  ``kv/data/team-a/x``, which on a KV v1 mount is another secret. Only the first
  segment is taken as the mount; on a mount of several segments write paths
  with ``data/``. Caveat: a pattern with ``data/`` on a KV v1 mount also allows
  the path without ``data/``.
- ``delivery:`` (per project and ``"*"``) forces the delivery mode of its apps
  (``inline``, ``external-secrets``, ``vault-secrets-operator``, ``vault-secret``);
  an application's ``secrets.delivery`` cannot change it (:func:`forced_delivery`).
- A malformed policy file is an ``InputError`` (exit 2); a refused path a
  ``PolicyError`` (exit 1) naming the path, the project and the policy file.
- ``kinds`` (per project): where placeholders may appear (``secrets.exposure``).
  ``[Secret]`` means the ``data`` and ``stringData`` of core v1 Secrets, the
  only values Argo CD masks; ``"*"`` or no ``kinds`` allows every kind, whose
  values the Argo CD UI then shows in clear.
- ``streamed`` (top level, and per project to override it): what a render of
  streamed, uncommitted files (``ARGOCD_APP_REVISION=streamed``, Argo CD's
  ``--local``) does with placeholders: ``fail`` (default) or ``mask``; Vault is
  never read for them.
"""

from __future__ import annotations

import glob
from collections.abc import Collection, Mapping
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Literal

import jinja2
import yaml
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lsp_render.core.context import RenderRequest
from lsp_render.core.errors import InputError, PolicyError
from lsp_render.core.filenames import POLICY_VARIABLE, policy_file
from lsp_render.core.yamlfile import yaml_error_line

__all__ = [
    "POLICY_VARIABLE",
    "KustomizePolicy",
    "NetworkPolicy",
    "Policy",
    "ProjectPolicy",
    "allowed_hosts",
    "applicable",
    "enforce",
    "forced_delivery",
    "helm_charts_enabled",
    "load_policy",
    "path_forms",
]

_FORBIDDEN_CHARS = frozenset("\\%?#")
_Delivery = Literal["inline", "external-secrets", "vault-secrets-operator", "vault-secret"]


class KustomizePolicy(BaseModel):
    """How the project's Kustomize apps are built."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enableHelm: bool = Field(  # noqa: N815 - the policy file's own spelling
        default=False,
        title="Enable helmCharts",
        description="Inflate helmCharts: of every Kustomize app (kustomize --enable-helm).",
    )


class ProjectPolicy(BaseModel):
    """What one Argo CD project may read, and the role it logs in with."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    paths: tuple[str, ...] = Field(
        default=(),
        title="Allowed paths",
        description="Shell-style patterns (Jinja2 over app.*); * also matches /.",
    )
    role: str | None = Field(
        default=None,
        title="Login role",
        description="Vault login role (kubernetes) or role_id (approle) for this project.",
    )
    kinds: tuple[str, ...] | None = Field(
        default=None,
        title="Kinds that may hold placeholders",
        description=(
            "Kinds whose objects may hold placeholders; Secret means the data and stringData "
            'of v1 Secrets (the only values Argo CD masks); "*" or unset: every kind, whose '
            "values the Argo CD UI shows in clear."
        ),
    )
    streamed: Literal["fail", "mask"] | None = Field(
        default=None,
        title="Streamed sources",
        description=(
            "ARGOCD_APP_REVISION=streamed (argocd app manifests/diff --local): fail, or mask "
            "every value; Vault is never read. Default: the top-level streamed."
        ),
    )
    delivery: _Delivery | None = Field(
        default=None,
        title="Secret delivery",
        description="Forces how secrets reach the cluster for this project; an application's "
        "secrets.delivery cannot change it.",
    )
    kustomize: KustomizePolicy = Field(
        default_factory=KustomizePolicy,
        title="Kustomize",
        description="Kustomize build options of the project's apps.",
    )


class NetworkPolicy(BaseModel):
    """Which hosts the engines may reach (Kustomize remote bases, Helm schema refs)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    allow_hosts: tuple[str, ...] = Field(
        default=(),
        alias="allowHosts",
        title="Allowed hosts",
        description="Host names (exact, case-insensitive) remote references may name; "
        "none by default.",
    )


class Policy(BaseModel):
    """The operator's policy file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    projects: dict[str, ProjectPolicy] = Field(
        title="Projects",
        description='Argo CD project name (or "*" for every other project) to its policy.',
    )
    streamed: Literal["fail", "mask"] = Field(
        default="fail",
        title="Streamed sources",
        description=(
            "ARGOCD_APP_REVISION=streamed (argocd app manifests/diff --local): fail, or mask "
            "every value; Vault is never read."
        ),
    )
    network: NetworkPolicy = Field(
        default_factory=NetworkPolicy,
        title="Network",
        description="What engines may reach over the network (SPEC section 11, Confinement).",
    )

    def for_project(self, project: str) -> ProjectPolicy | None:
        """Return the entry of ``project``, else the ``"*"`` entry, else ``None``.

        Parameters
        ----------
        project
            The Argo CD project.

        Returns
        -------
        ProjectPolicy or None
            The entry that applies.
        """
        entry = self.projects.get(project)
        return entry if entry is not None else self.projects.get("*")


def load_policy(path: Path) -> Policy:
    """Load and validate a policy file.

    Parameters
    ----------
    path
        Absolute path of the file.

    Returns
    -------
    Policy
        The policy.

    Raises
    ------
    InputError
        The name is relative, the file is unreadable, or its content is invalid.
    """
    if not path.is_absolute():
        msg = f"{POLICY_VARIABLE} must be an absolute path, not {str(path)!r}"
        raise InputError(msg)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        msg = f"cannot read the policy file {path}: {exc.strerror or 'unreadable'}"
        raise InputError(msg) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        line = yaml_error_line(exc)
        where = f":{line}" if line is not None else ""
        msg = f"policy file {path}{where}: not valid YAML"
        raise InputError(msg) from None
    try:
        return Policy.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "(top level)"
        msg = f"policy file {path}: {loc}: {first['msg']}"
        raise InputError(msg) from None


def allowed_hosts(environ: Mapping[str, str]) -> frozenset[str]:
    """Return the hosts the policy's ``network.allowHosts`` names (lower case).

    Parameters
    ----------
    environ
        The sidecar's environment (``LSP_RENDER_POLICY``).

    Returns
    -------
    frozenset of str
        Empty without a policy file: no host is allowed.

    Raises
    ------
    InputError
        The policy file is unreadable or malformed.
    """
    name = policy_file(environ)
    if not name:
        return frozenset()
    policy = load_policy(Path(name))
    return frozenset(host.strip().lower() for host in policy.network.allow_hosts if host.strip())


def _refusal(path: str) -> str | None:
    if not path:
        return "it is empty"
    if path.startswith("/"):
        return "it starts with '/'"
    if "//" in path or path.endswith("/"):
        return "it has an empty segment"
    if any(seg in (".", "..") for seg in path.split("/")):
        return "it has a '.' or '..' segment"
    if any(ch in _FORBIDDEN_CHARS or ord(ch) < 32 or ord(ch) == 127 for ch in path):
        return "it has a character that is not allowed (\\ % ? # or a control character)"
    return None


def path_forms(path: str) -> tuple[str, ...]:
    """Return the spellings of ``path`` matched against the patterns.

    Parameters
    ----------
    path
        A normalised path.

    Returns
    -------
    tuple of str
        ``path`` itself and, when it has no ``data/`` after its first segment,
        the KV v2 spelling with ``data/`` there.
    """
    mount, sep, rest = path.partition("/")
    if not sep or not rest or rest.startswith("data/"):
        return (path,)
    return (path, f"{mount}/data/{rest}")


def _render_patterns(entry: ProjectPolicy, app: Mapping[str, str], where: str) -> list[str]:
    env = SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False)
    context: dict[str, Any] = {"app": {k: glob.escape(v) for k, v in app.items()}}
    patterns = []
    for raw in entry.paths:
        try:
            patterns.append(env.from_string(raw).render(context).strip())
        except jinja2.TemplateError as exc:
            msg = f"{where}: pattern {raw!r}: {exc.message or type(exc).__name__}"
            raise InputError(msg) from None
    return patterns


def applicable(request: RenderRequest) -> tuple[Path, Policy, ProjectPolicy | None] | None:
    """Load the policy named by ``LSP_RENDER_POLICY`` and pick the app's project entry.

    Parameters
    ----------
    request
        The render.

    Returns
    -------
    tuple or None
        The file, the policy and the entry of the app's project (else ``"*"``,
        else ``None``); ``None`` when no policy is configured.

    Raises
    ------
    InputError
        The policy file is unreadable or malformed.
    """
    name = policy_file(request.environ)
    if not name:
        return None
    file = Path(name)
    policy = load_policy(file)
    return file, policy, policy.for_project(request.app.project)


def enforce(paths: Collection[str], request: RenderRequest) -> str | None:
    """Check every secret path against the operator's policy; return the login role.

    Parameters
    ----------
    paths
        The secret paths of a render, as written in the placeholders.
    request
        The render; ``request.environ`` names the policy file and ``request.app``
        gives the project and the ``app.*`` template values.

    Returns
    -------
    str or None
        The project's login role, or ``None`` for the sidecar's own.

    Raises
    ------
    PolicyError
        A path is refused or not allowed for the app's project.
    InputError
        The policy file is missing, unreadable or malformed.
    """
    name = policy_file(request.environ)
    if not name:
        return None
    file = Path(name)
    policy = load_policy(file)
    project = request.app.project
    entry = policy.for_project(project)
    patterns = (
        _render_patterns(entry, request.app.as_dict(), f"policy file {file}, project {project!r}")
        if entry is not None
        else []
    )
    for path in sorted(set(paths)):
        refusal = _refusal(path)
        if refusal is not None:
            msg = f"Vault path {path!r} is refused for project {project!r}: {refusal}"
            raise PolicyError(msg)
        if not any(fnmatchcase(form, pat) for form in path_forms(path) for pat in patterns):
            msg = f"Vault path {path} is not allowed for project {project!r} by the policy {file}"
            raise PolicyError(msg)
    return entry.role if entry is not None else None


def forced_delivery(request: RenderRequest) -> str | None:
    """Return the delivery mode the policy forces on the app's project, if any.

    Parameters
    ----------
    request
        The render; ``request.environ`` names the policy file.

    Returns
    -------
    str or None
        ``delivery`` of the project's entry (else of ``"*"``), or ``None`` without
        a policy file or without such a setting.

    Raises
    ------
    InputError
        The policy file is missing, unreadable or malformed.
    """
    name = policy_file(request.environ)
    if not name:
        return None
    entry = load_policy(Path(name)).for_project(request.app.project)
    return entry.delivery if entry is not None else None


def helm_charts_enabled(request: RenderRequest) -> bool:
    """Tell whether the policy enables Kustomize's ``helmCharts:`` for the app's project.

    ``kustomize: {enableHelm: true}`` in the project's entry (else ``"*"``) is
    the operator's opt-in for every Kustomize app of the project, like Argo CD's
    ``kustomize.buildOptions: --enable-helm``; without a policy file, only the
    app's own ``lsp-render.yaml`` can opt in.

    Raises
    ------
    InputError
        The policy file is unreadable or malformed.
    """
    name = policy_file(request.environ)
    if not name:
        return False
    entry = load_policy(Path(name)).for_project(request.app.project)
    return entry is not None and entry.kustomize.enableHelm
