"""Scenario 3: substituting placeholders in a large stream vs PyYAML's C round trip.

A generated stream of 20,000 objects (about 4 MB: ConfigMaps, Deployments and
Secrets) holds 400 placeholders (inline and AVP generic ones) over 40 secret paths
of a file backend. Ours: ``split_stream`` + ``secrets.substitute_documents`` +
``join_stream``; theirs: ``yaml.load_all`` (CSafeLoader) + ``yaml.dump_all``
(CSafeDumper). Each run is its own subprocess (``substitution_worker.py``).
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

from benchlib import BENCH, Result, bench_env, run

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


def _one(side: str, stream: Path, secrets: Path) -> dict[str, float]:
    argv = [sys.executable, str(BENCH / "substitution_worker.py"), side, str(stream), str(secrets)]
    out = run(argv, env=bench_env()).stdout.decode()
    return json.loads(out)  # type: ignore[no-any-return]


def measure(tmp: Path, runs: int) -> list[Result]:
    """Return the time row and the peak-RSS row."""
    stream, secrets, placeholders = generate(tmp)
    size_mb = stream.stat().st_size / 1e6
    samples: dict[str, list[dict[str, float]]] = {"ours": [], "pyyaml": []}
    for _ in range(runs):
        for side, done in samples.items():
            done.append(_one(side, stream, secrets))
    ours_s = statistics.median(s["seconds"] for s in samples["ours"])
    theirs_s = statistics.median(s["seconds"] for s in samples["pyyaml"])
    ours_mb = max(s["rss_mb"] for s in samples["ours"])
    theirs_mb = max(s["rss_mb"] for s in samples["pyyaml"])
    docs = int(samples["ours"][0]["documents"])
    left = int(samples["ours"][0]["left"])
    note = (
        f"{docs} objects, {size_mb:.1f} MB, {placeholders} placeholders over {PATHS} paths "
        f"({left} left unsubstituted); "
        f"median time / max RSS growth of {runs} runs per side, each its own process"
    )
    return [
        Result(
            "3 substitution time",
            ours_s,
            theirs_s,
            "s",
            f"<= {TIME_GOAL}x",
            ours_s / theirs_s <= TIME_GOAL and docs == OBJECTS and left == 0,
            note=note,
        ),
        Result(
            "3 substitution peak RSS",
            ours_mb,
            theirs_mb,
            "MB",
            "<= 1.00x",
            ours_mb <= theirs_mb,
        ),
    ]
