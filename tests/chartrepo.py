"""A real Helm chart repository (and a minimal OCI registry) on 127.0.0.1, for remote-chart tests.

``ChartRepo`` serves ``<prefix>/index.yaml`` in Helm's repository index format and
the chart archives it lists, packaged by Helm itself (``helm_python.package``) from
``tests/data/charts/remote/``. The same archives are served as OCI artifacts under
``/v2/<prefix>/<name>`` (manifest, config and content blobs, Helm's media types).
Every request is logged; optional Basic authentication; ``stall`` makes the
server accept requests and never answer.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

__all__ = ["CHARTS", "ChartRepo", "Request", "archive_with", "chart_repo"]

CHARTS = Path(__file__).resolve().parent / "data" / "charts" / "remote"
_CREATED = "2026-01-01T00:00:00Z"
_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
_CONFIG = "application/vnd.cncf.helm.config.v1+json"
_CONTENT = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"


@dataclass(frozen=True)
class Request:
    """One request the server received."""

    method: str
    path: str
    authorization: str | None


@dataclass(frozen=True)
class _Chart:
    name: str
    version: str
    data: bytes
    metadata: dict[str, Any]


def archive_with(members: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    """Build a ``.tgz`` by hand (for hostile archives Helm would never package)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)
    return out.getvalue()


class ChartRepo:
    """A Helm chart repository served over HTTP on a random port of 127.0.0.1.

    Parameters
    ----------
    workdir
        Where packaged archives are written.
    prefix
        The repository's path (``/stable``): the repo URL is ``url``.
    auth
        ``(username, password)`` to require Basic authentication.
    """

    def __init__(
        self, workdir: Path, *, prefix: str = "/stable", auth: tuple[str, str] | None = None
    ) -> None:
        self.workdir = workdir
        self.prefix = prefix.rstrip("/")
        self.auth = auth
        self.requests: list[Request] = []
        self.stall = False
        self._charts: dict[tuple[str, str], _Chart] = {}
        self._blobs: dict[str, bytes] = {}
        self._release = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        """The TCP port."""
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The HTTP repository URL (``helm.repo``)."""
        return f"http://127.0.0.1:{self.port}{self.prefix}"

    @property
    def oci_url(self) -> str:
        """The OCI repository (``helm.repo``; the registry speaks plain HTTP)."""
        return f"oci://127.0.0.1:{self.port}{self.prefix}"

    def add_packaged(self, source: Path, version: str) -> bytes:
        """Package ``source`` with Helm at ``version`` and serve it; return the archive."""
        import helm_python

        out = self.workdir / "packages"
        out.mkdir(parents=True, exist_ok=True)
        path = Path(helm_python.package(str(source), destination=str(out), version=version))
        data = path.read_bytes()
        metadata = yaml.safe_load((source / "Chart.yaml").read_text())
        metadata["version"] = version
        self.add_archive(str(metadata["name"]), version, data, metadata)
        return data

    def add_archive(
        self, name: str, version: str, data: bytes, metadata: dict[str, Any] | None = None
    ) -> None:
        """Serve ``data`` as ``name`` ``version`` (listed in the index as it is)."""
        meta = metadata or {"apiVersion": "v2", "name": name, "version": version}
        self._charts[(name, version)] = _Chart(name, version, data, meta)

    def downloads(self, suffix: str = ".tgz") -> list[str]:
        """Paths of the archive (or OCI blob) requests received so far."""
        return [r.path for r in self.requests if r.path.endswith(suffix) or "/blobs/" in r.path]

    def index(self) -> dict[str, Any]:
        """The repository index, in Helm's ``index.yaml`` format."""
        entries: dict[str, list[dict[str, Any]]] = {}
        for chart in sorted(self._charts.values(), key=lambda c: (c.name, c.version)):
            entry = dict(chart.metadata)
            entry.update(
                {
                    "name": chart.name,
                    "version": chart.version,
                    "created": _CREATED,
                    "digest": hashlib.sha256(chart.data).hexdigest(),
                    "urls": [f"{chart.name}-{chart.version}.tgz"],
                }
            )
            entries.setdefault(chart.name, []).insert(0, entry)
        return {"apiVersion": "v1", "entries": entries, "generated": _CREATED}

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the port."""
        self._release.set()
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()

    # --- serving ---------------------------------------------------------------------

    def _respond(self, path: str, accept: str) -> tuple[int, str, bytes]:
        if path == f"{self.prefix}/index.yaml":
            return 200, "application/x-yaml", yaml.safe_dump(self.index()).encode()
        for chart in self._charts.values():
            if path == f"{self.prefix}/{chart.name}-{chart.version}.tgz":
                return 200, "application/gzip", chart.data
        if path == "/v2/":
            return 200, "application/json", b"{}"
        oci = f"/v2{self.prefix}/"
        if path.startswith(oci):
            return self._oci(path[len(oci) :], accept)
        return 404, "text/plain", b"not found\n"

    def _oci(self, rest: str, accept: str) -> tuple[int, str, bytes]:
        name, _, tail = rest.partition("/")
        kind, _, ref = tail.partition("/")
        if kind == "blobs" and ref in self._blobs:
            return 200, "application/octet-stream", self._blobs[ref]
        if kind == "manifests":
            for chart in self._charts.values():
                if chart.name == name and ref in (chart.version, _digest(self._manifest(chart))):
                    return 200, _MANIFEST, self._manifest(chart)
        del accept
        return 404, "application/json", b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}'

    def _manifest(self, chart: _Chart) -> bytes:
        config = json.dumps(chart.metadata, sort_keys=True).encode()
        for blob in (config, chart.data):
            self._blobs[_digest(blob)] = blob
        manifest = {
            "schemaVersion": 2,
            "mediaType": _MANIFEST,
            "config": {"mediaType": _CONFIG, "digest": _digest(config), "size": len(config)},
            "layers": [
                {"mediaType": _CONTENT, "digest": _digest(chart.data), "size": len(chart.data)}
            ],
        }
        return json.dumps(manifest, sort_keys=True).encode()

    def _authorized(self, header: str | None) -> bool:
        if self.auth is None:
            return True
        expected = base64.b64encode(f"{self.auth[0]}:{self.auth[1]}".encode()).decode()
        return header == f"Basic {expected}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        repo = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self, *, body: bool) -> None:
                path = self.path.split("?", 1)[0]
                authorization = self.headers.get("Authorization")
                repo.requests.append(Request(self.command, path, authorization))
                if repo.stall:
                    repo._release.wait(60)
                    return
                if not repo._authorized(authorization):
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="charts"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status, kind, data = repo._respond(path, self.headers.get("Accept", ""))
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                if kind == _MANIFEST:
                    self.send_header("Docker-Content-Digest", _digest(data))
                self.end_headers()
                if body:
                    self.wfile.write(data)

            def do_GET(self) -> None:
                self._serve(body=True)

            def do_HEAD(self) -> None:
                self._serve(body=False)

            def log_message(self, format: str, *args: Any) -> None:
                del format, args

        return Handler


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@contextmanager
def chart_repo(workdir: Path, *, auth: tuple[str, str] | None = None) -> Iterator[ChartRepo]:
    """Serve ``mychart`` 1.2.3 and 1.3.0 until the block ends."""
    repo = ChartRepo(workdir, auth=auth)
    for version in ("1.2.3", "1.3.0"):
        repo.add_packaged(CHARTS / "mychart", version)
    repo.start()
    try:
        yield repo
    finally:
        repo.stop()
