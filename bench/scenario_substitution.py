"""A plain app of 20,000 objects with 400 placeholders vs PyYAML's C round trip.

A generated stream of 20,000 objects (about 4 MB: ConfigMaps, Deployments and
Secrets) holds 400 placeholders (inline and AVP generic ones) over 40 secret paths
of a file backend. Ours: the whole ``lsp-render render`` of the app directory;
theirs: a Python process that reads the file and runs ``yaml.load_all``
(CSafeLoader) and ``yaml.dump_all`` (CSafeDumper) to stdout.
"""

from __future__ import annotations

import sys
from pathlib import Path

from benchlib import Result, bench_env, compare_commands, lsp_render_argv

__all__ = ["OBJECTS", "PLACEHOLDERS", "generate", "measure"]

OBJECTS = 20_000
PLACEHOLDERS = 400
PATHS = 40
TIME_GOAL = 0.25

_CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings-{n}
  namespace: team-{team}
data:
  LOG_LEVEL: info
  ENDPOINT: https://svc-{team}.example.org/api/v{n}
"""
_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web-{n}
  namespace: team-{team}
spec:
  replicas: 2
  selector:
    matchLabels:
      app.kubernetes.io/name: web-{n}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: web-{n}
    spec:
      containers:
        - name: web
          image: registry.example.org/web:1.{n}
          envFrom:
            - configMapRef:
                name: settings-{n}
"""
_SECRET = """\
apiVersion: v1
kind: Secret
metadata:
  name: creds-{n}
  namespace: team-{team}
type: Opaque
stringData:
  user: svc-{n}
"""
_INLINE = """\
apiVersion: v1
kind: Secret
metadata:
  name: vault-inline-{n}
  namespace: team-{team}
type: Opaque
stringData:
  password: <path:secret/data/bench/p{p}#password>
  url: "postgres://app:<path:secret/data/bench/p{p}#password>@db:5432/app"
data:
  token: <path:secret/data/bench/p{p}#token | base64encode>
"""
_GENERIC = """\
apiVersion: v1
kind: Secret
metadata:
  name: vault-generic-{n}
  namespace: team-{team}
  annotations:
    avp.kubernetes.io/path: secret/data/bench/p{p}
type: Opaque
stringData:
  user: <user>
"""


def generate(directory: Path) -> tuple[Path, Path, int]:
    """Write ``stream.yaml`` and ``secrets.yaml``; return their paths and the placeholder count."""
    inline_docs = 100  # 3 placeholders each
    generic_docs = PLACEHOLDERS - 3 * inline_docs  # 1 each
    specials = inline_docs + generic_docs
    parts: list[str] = []
    placeholders = 0
    special_every = OBJECTS // specials
    made = 0
    for n in range(OBJECTS):
        team = n % 17
        if n % special_every == 0 and made < specials:
            p = made % PATHS
            if made < inline_docs:
                parts.append(_INLINE.format(n=n, team=team, p=p))
                placeholders += 3
            else:
                parts.append(_GENERIC.format(n=n, team=team, p=p))
                placeholders += 1
            made += 1
        else:
            parts.append((_CONFIGMAP, _DEPLOYMENT, _SECRET)[n % 3].format(n=n, team=team))
    stream = directory / "stream.yaml"
    stream.write_text("---\n" + "---\n".join(parts), encoding="utf-8")
    secrets = directory / "secrets.yaml"
    secrets.write_text(
        "".join(
            f"secret/data/bench/p{p}:\n  password: pw-{p}-'\"x\n  token: tok-{p}\n  user: u{p}\n"
            for p in range(PATHS)
        ),
        encoding="utf-8",
    )
    return stream, secrets, placeholders


_PYYAML = """
import sys, yaml
text = open(sys.argv[1], encoding="utf-8").read()
docs = [d for d in yaml.load_all(text, Loader=yaml.CSafeLoader) if d is not None]
yaml.dump_all(docs, sys.stdout, Dumper=yaml.CSafeDumper)
"""


def measure(tmp: Path, runs: int) -> list[Result]:
    """Return the time row and the peak-RSS row of the whole commands."""
    app = tmp / "repo" / "app"
    app.mkdir(parents=True)
    (tmp / "repo" / ".git").mkdir()
    stream, secrets, placeholders = generate(app)
    secrets = secrets.rename(tmp / "secrets.yaml")
    size_mb = stream.stat().st_size / 1e6
    env = bench_env()
    ours = [*lsp_render_argv(), "render", str(app), "--secrets-file", str(secrets)]
    theirs = [sys.executable, "-c", _PYYAML, str(stream)]
    mine, native = compare_commands([(ours, env, tmp), (theirs, env, tmp)], runs)
    docs = mine.stdout.count(b"\n---\n") + mine.stdout.startswith(b"---\n")
    left = mine.stdout.count(b"<path:") + mine.stdout.count(b": <user>")
    note = (
        f"whole commands: lsp-render render of a plain app vs a python process doing PyYAML's "
        f"C load_all + dump_all; {docs} objects, {size_mb:.1f} MB, {placeholders} placeholders "
        f"over {PATHS} paths ({left} left unsubstituted); median of {runs} interleaved runs"
    )
    return [
        Result(
            "plain 20k objects time",
            mine.seconds,
            native.seconds,
            "s",
            f"<= {TIME_GOAL}x",
            mine.seconds / native.seconds <= TIME_GOAL and docs == OBJECTS and left == 0,
            note=note,
        ),
        Result(
            "plain 20k objects peak RSS",
            mine.rss_mb,
            native.rss_mb,
            "MB",
            "<= 1.00x",
            mine.rss_mb <= native.rss_mb,
        ),
    ]
