"""Pulling a chart archive: ``helm pull``, or Helm's own pull through the SDK.

The binary engine runs ``helm pull``; without a binary the SDK pulls in-process
(:mod:`.sdk`). Both transports go through the same pull and differ only in what Helm
is given: an HTTP(S) chart repository as ``--repo URL NAME``, an OCI registry as
``oci://host/path/NAME`` (over plain HTTP only for the registries the sidecar lists
in ``LSP_RENDER_HELM_PLAIN_HTTP_REGISTRIES``). Credentials never reach a message:
Helm's errors are scrubbed of them.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from lsp_render.core.engines import run_engine
from lsp_render.core.errors import RenderError
from lsp_render.sources.helm import binary, sdk
from lsp_render.sources.helm.remote_ref import Credentials, RemoteChart

__all__ = ["pull_archive"]


def _plain_http(chart: RemoteChart, environ: Mapping[str, str]) -> bool:
    if not chart.is_oci:
        return False
    hosts = {h.strip() for h in environ.get("LSP_RENDER_HELM_PLAIN_HTTP_REGISTRIES", "").split(",")}
    return urlsplit(chart.repo).netloc in hosts


def pull_archive(
    chart: RemoteChart,
    creds: Credentials | None,
    environ: Mapping[str, str],
    work: Path,
    timeout: float,
) -> bytes:
    """Pull the archive into a fresh directory under ``work`` and return its bytes.

    Parameters
    ----------
    chart
        What to pull.
    creds
        The sidecar's credentials for ``chart.repo``, if any.
    environ
        The sidecar's environment (``LSP_RENDER_HELM_PLAIN_HTTP_REGISTRIES``).
    work
        This chart's scratch directory (emptied first).
    timeout
        Seconds the pull may take.

    Returns
    -------
    bytes
        The ``.tgz`` archive.

    Raises
    ------
    RenderError
        The repository is unreachable, the chart or version does not exist, or the
        pull timed out (no credential in the message).
    """
    if work.exists():
        shutil.rmtree(work)
    destination = work / "pull"
    destination.mkdir(parents=True, mode=0o700)
    plain_http = _plain_http(chart, environ)
    helm = binary.find_helm_binary()
    if helm is not None:
        _pull_binary(helm, chart, creds, destination, timeout, plain_http=plain_http)
    else:
        _pull_embedded(chart, creds, destination, timeout, plain_http=plain_http)
    archives = sorted(destination.glob("*.tgz"))
    if len(archives) != 1:
        msg = f"{chart.describe()}: the pull produced no chart archive"
        raise RenderError(msg)
    data = archives[0].read_bytes()
    shutil.rmtree(destination, ignore_errors=True)
    return data


def _pull_binary(
    helm: Path,
    chart: RemoteChart,
    creds: Credentials | None,
    destination: Path,
    timeout: float,
    *,
    plain_http: bool,
) -> None:
    argv = [str(helm), "pull", chart.reference, "--version", chart.version]
    if not chart.is_oci:
        argv += ["--repo", chart.repo]
    argv += ["--destination", str(destination)]
    if plain_http:
        argv.append("--plain-http")
    if creds is not None:
        # Helm's pull takes credentials only as flags (Argo CD passes them the same way).
        argv += ["--username", creds.username, "--password", creds.password]
    try:
        run_engine(argv, what=f"helm pull {chart.describe()}", timeout=timeout)
    except RenderError as exc:
        message = creds.scrub(exc.message) if creds is not None else exc.message
        raise RenderError(message) from None


def _pull_embedded(
    chart: RemoteChart,
    creds: Credentials | None,
    destination: Path,
    timeout: float,
    *,
    plain_http: bool,
) -> None:
    options: dict[str, Any] = {"version": chart.version}
    if not chart.is_oci:
        options["repo_url"] = chart.repo
    if plain_http:
        options["plain_http"] = True
    if creds is not None:
        options["username"] = creds.username
        options["password"] = creds.password
    outcome: list[BaseException] = []

    def pull() -> None:
        try:
            sdk.pull(chart.reference, destination, options)
        except BaseException as exc:  # handed to the waiting thread
            outcome.append(exc)

    # The native call cannot be cancelled: it runs in a daemon thread that is
    # abandoned (and dies with the process) when it outlives the timeout.
    worker = threading.Thread(target=pull, name="lsp-render-helm-pull", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        msg = f"helm pull {chart.describe()}: did not finish within {timeout:g} s"
        raise RenderError(msg)
    if not outcome:
        return
    error = outcome[0]
    if isinstance(error, sdk.SdkError):
        text = error.message
        if creds is not None:
            text = creds.scrub(text)
        msg = f"helm pull {chart.describe()}: {text}"
        raise RenderError(msg) from None
    raise error
