"""CRD files read by the CLI while the engine renders give the stream ``helm template`` prints.

When the engine child can read a chart's CRDs from its files, it sends their
names and paths and the rest of the stream; the CLI reads and splits the
files (during the render) and puts their documents first. Checked here:

- the stream split whole and split as CRD sections plus the rest give the
  same documents, on generated sections (separators, comments, directives,
  ``...``, CRLF, inline content, non-ASCII, no final newline);
- a release's pieces without CRDs are :func:`assemble_parts` without the CRD
  sections, and a release without resources says so (Helm's trim would reach
  into the last CRD file);
- the whole command, through a real engine child, prints what ``helm
  template --include-crds`` printed before (the CRDs listed by Helm), and a
  placeholder in a CRD file is still substituted (the placeholder check of
  the prepared documents is the one the render uses).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from lsp_render.core.errors import RenderError
from lsp_render.core.manifests import Document
from lsp_render.secrets.scan import is_candidate, remember
from lsp_render.sources.helm.crd_prep import CrdPreparation, crd_documents, crd_text
from lsp_render.sources.helm.engine_child import TextParts
from lsp_render.sources.helm.output import (
    CrdFile,
    Release,
    assemble_parts,
    crd_section,
    stream_documents,
)
from tests.cli_helpers import base_env, fresh_python, run

_LINES = [
    "---\n",
    "--- # a comment\n",
    "--- {a: 1}\n",
    "# comment\n",
    "a: 1\n",
    "b: caf\u00e9 \u201cq\u201d\n",
    "\n",
    "  \n",
    "...\n",
    "%YAML 1.2\n",
    "c: |\n  x\n  ---\n",
    "d: 2\r\n",
    "kind: CustomResourceDefinition\n",
]


def _text(rng: random.Random) -> str:
    text = "".join(rng.choice(_LINES) for _ in range(rng.randint(0, 12)))
    if rng.random() < 0.2:
        text = text.rstrip("\n")
    return text


def _docs(docs: list[Document]) -> list[tuple[str, str, str]]:
    return [(doc.text, doc.source, doc.separator) for doc in docs]


def test_sections_split_apart_are_the_stream_split_whole() -> None:
    rng = random.Random(20261129)
    for _ in range(3000):
        crds = [(f"c/crds/{index}.yaml", _text(rng)) for index in range(rng.randint(1, 4))]
        rest = "".join(
            f"---\n# Source: c/templates/{index}.yaml\n{_text(rng)}\n"
            for index in range(rng.randint(1, 3))
        )
        whole = "".join(crd_section(name, text) for name, text in crds) + rest
        apart: list[Document] = []
        for name, text in crds:
            apart += crd_documents(text, name)
        apart += stream_documents(rest)
        assert _docs(apart) == _docs(stream_documents(whole)), whole


_FILES = {
    "c/templates/a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n\n\n",
    "c/templates/b.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: b\n",
    "c/templates/hook.yaml": (
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: h\n"
        "  annotations:\n    helm.sh/hook: pre-install\n"
    ),
    "c/templates/NOTES.txt": "notes",
}
_HOOK_ONLY = {key: value for key, value in _FILES.items() if "hook" in key}
_CRDS = [CrdFile("c/crds/a.yaml", "# c\n---\nkind: CustomResourceDefinition\n\n\n")]


@pytest.mark.parametrize("files", [_FILES, {**_FILES, "c/templates/empty.yaml": "  \n"}])
def test_the_rest_after_the_crds_is_the_whole_stream_without_them(files: dict[str, str]) -> None:
    release = Release(files)
    assert release.has_resources
    rest = release.parts((), skip_tests=False)
    whole = "".join(assemble_parts(files, _CRDS, include_crds=True, skip_tests=False))
    crds = "".join(crd_section(crd.filename, crd.data) for crd in _CRDS)
    assert crds + "".join(rest) == whole


@pytest.mark.parametrize("files", [_HOOK_ONLY, {}])
def test_without_a_resource_the_crds_are_not_sent_apart(files: dict[str, str]) -> None:
    # Helm trims the release manifest's end: with no resource, that is the last CRD file's.
    assert not Release(files).has_resources
    whole = "".join(assemble_parts(files, _CRDS, include_crds=True, skip_tests=False))
    assert not whole.startswith(crd_section(_CRDS[0].filename, _CRDS[0].data))


def test_the_preparation_gives_the_documents_of_the_files_named(tmp_path: Path) -> None:
    chart = tmp_path / "c"
    (chart / "crds").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: c\nversion: 0.1.0\n")
    (chart / "crds" / "a.yaml").write_text("# c\n---\nkind: CustomResourceDefinition\n")
    sub = chart / "charts" / "sub-dir"
    (sub / "crds").mkdir(parents=True)
    (sub / "Chart.yaml").write_text("apiVersion: v2\nname: sub\nversion: 0.1.0\n")
    (sub / "crds" / "s.yaml").write_text("kind: CustomResourceDefinition\n# <path:kv/x#y>\n")
    listing = [
        ("c/crds/a.yaml", "crds/a.yaml"),
        ("c/charts/sub/crds/s.yaml", "charts/sub-dir/crds/s.yaml"),
    ]
    # A name the guess could not foresee (an alias) is read when asked for.
    listing.append(("c/charts/other/crds/s.yaml", "charts/sub-dir/crds/s.yaml"))
    seen: list[str] = []
    prepared = CrdPreparation(chart, check_document=seen.append).documents("c", listing)
    expected: list[Document] = []
    for filename, path in listing:
        expected += crd_documents((chart / path).read_text(), filename)
    assert _docs(prepared) == _docs(expected)
    assert [is_candidate(doc.text) for doc in prepared] == [False, False, True, True]
    assert seen == [doc.text for doc in prepared[:3]]  # each prepared document, checked ahead


def test_a_remembered_answer_is_for_that_very_text_only() -> None:
    text = "".join(["kind: Secret\n", "data: {a: PHBh}\n"])
    remember(text)
    assert is_candidate(text) is True
    other = "".join(["kind: ConfigMap\n", "data: {}\n"])
    remember(other)
    assert is_candidate("".join(["kind: ConfigMap\n", "data: {}\n"])) is False


def _chart(root: Path) -> Path:
    chart = root / "apps" / "op"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(
        "apiVersion: v2\nname: op\nversion: 0.1.0\n"
        "dependencies:\n  - name: crds\n    version: 0.1.0\n    condition: crds.enabled\n"
    )
    (chart / "values.yaml").write_text("crds:\n  enabled: true\n")
    (chart / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n"
    )
    (chart / "crds").mkdir()
    (chart / "crds" / "own.yaml").write_text(
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"
        "metadata:\n  name: owns.example.org\n  annotations:\n"
        "    note: <path:kv/op#note>\n"
    )
    sub = chart / "charts" / "crds"
    (sub / "crds").mkdir(parents=True)
    (sub / "Chart.yaml").write_text("apiVersion: v2\nname: crds\nversion: 0.1.0\n")
    (sub / "crds" / "w.yaml").write_text(
        "# from upstream, \u201cas is\u201d\n---\napiVersion: apiextensions.k8s.io/v1\n"
        "kind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.org\n"
    )
    return chart


_HELM_LISTED = """
import sys
from pathlib import Path
from lsp_render.sources.helm import HelmInputs, embedded

embedded._crds_from_files = lambda chart, loaded: None  # Helm lists them, as before
inputs = HelmInputs(chart_dir=Path(sys.argv[1]), repo_root=Path(sys.argv[2]),
                    release_name="op", namespace="ns", include_crds=True,
                    set_values=tuple(sys.argv[3:]))
sys.stdout.write(embedded.render_stream(inputs))
"""


@pytest.mark.parametrize("sets", [[], ["--set", "crds.enabled=false"]])
def test_the_command_prints_what_helm_listed(tmp_path: Path, sets: list[str]) -> None:
    chart = _chart(tmp_path)
    (tmp_path / ".git").mkdir()
    secrets = tmp_path / "secrets.json"
    secrets.write_text(json.dumps({"kv/op": {"note": "n0te"}}))
    env = base_env(tmp_path)
    env["PATH"] = f"{tmp_path / 'no-helm'}:{env['PATH']}"
    env.pop("LSP_RENDER_HELM", None)
    ours = run(["render", str(chart), "--secrets-file", str(secrets), *sets], env=env)
    assert ours.code == 0, ours.stderr
    oracle = fresh_python(_HELM_LISTED, str(chart), str(tmp_path), *sets[1:], env=env)
    assert oracle.returncode == 0, oracle.stderr
    assert ours.stdout == oracle.stdout.replace("<path:kv/op#note>", "n0te")
    assert "n0te" in ours.stdout
    assert ("widgets.example.org" in ours.stdout) == (not sets)


def test_a_text_without_its_crd_files_is_never_joined_alone() -> None:
    assert str(TextParts(["a", "b"])) == "ab"
    with pytest.raises(TypeError):
        str(TextParts(["a"], [("c/crds/x.yaml", "crds/x.yaml")]))


def test_a_crd_file_changed_since_the_child_read_it_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "crds").mkdir()
    (tmp_path / "crds" / "x.yaml").write_bytes(b"\xef\xbb\xbfkind: A\n")
    assert crd_text(tmp_path, "c", "crds/x.yaml") == "kind: A\n"
    (tmp_path / "crds" / "x.yaml").write_bytes(b"kind: caf\xe9\n")
    with pytest.raises(RenderError, match=r"chart c: crds/x.yaml changed"):
        crd_text(tmp_path, "c", "crds/x.yaml")
    chart = tmp_path / "chart"
    chart.mkdir()
    (chart / "link.yaml").symlink_to(tmp_path / "crds" / "x.yaml")
    for path in ("../crds/x.yaml", "link.yaml", str(tmp_path / "crds" / "x.yaml")):
        with pytest.raises(RenderError, match=r"is not a file of the chart"):
            crd_text(chart, "c", path)


_SENT = """
import sys
from pathlib import Path
from lsp_render.sources.helm import HelmInputs, embedded

inputs = HelmInputs(chart_dir=Path(sys.argv[1]), repo_root=Path(sys.argv[2]),
                    release_name="op", namespace="ns", include_crds=True)
print(embedded._render_in_child(inputs).crd_files)
"""


def test_the_child_sends_names_only_when_a_resource_follows(tmp_path: Path) -> None:
    chart = _chart(tmp_path)
    (tmp_path / ".git").mkdir()
    env = base_env(tmp_path)
    sent = fresh_python(_SENT, str(chart), str(tmp_path), env=env)
    assert sent.returncode == 0, sent.stderr
    expected = [
        ("op/crds/own.yaml", "crds/own.yaml"),
        ("op/charts/crds/crds/w.yaml", "charts/crds/crds/w.yaml"),
    ]
    assert sent.stdout.strip() == str(expected)
    (chart / "templates" / "cm.yaml").unlink()  # CRDs alone: Helm trims the last one
    sent = fresh_python(_SENT, str(chart), str(tmp_path), env=env)
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout.strip() == "None"
    ours = run(["render", str(chart), "--no-secrets"], env=env)
    oracle = fresh_python(_HELM_LISTED, str(chart), str(tmp_path), env=env)
    assert ours.code == 0, ours.stderr
    assert ours.stdout == oracle.stdout


def test_a_file_the_chart_did_not_have_when_prepared_is_read_when_named(tmp_path: Path) -> None:
    chart = tmp_path / "c"
    chart.mkdir()
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: c\nversion: 0.1.0\n")
    CrdPreparation(chart).wait()  # nothing to prepare: not looked for again
    (chart / "crds").mkdir()
    (chart / "crds" / "a.yaml").write_text("kind: CustomResourceDefinition\n")
    docs = CrdPreparation(chart).documents("c", [("c/crds/a.yaml", "crds/a.yaml")])
    assert _docs(docs) == _docs(crd_documents("kind: CustomResourceDefinition\n", "c/crds/a.yaml"))


_BROKEN_CHECK = """
import sys
from pathlib import Path
from lsp_render.sources.helm.crd_prep import CrdPreparation

def broken(text):
    raise RuntimeError(text)

prep = CrdPreparation(Path(sys.argv[1]), check_document=broken)
docs = prep.documents("c", [("c/crds/a.yaml", "crds/a.yaml")])
print(len(docs))
"""


def test_a_check_that_fails_on_the_thread_prints_nothing(tmp_path: Path) -> None:
    chart = tmp_path / "c"
    (chart / "crds").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: c\nversion: 0.1.0\n")
    (chart / "crds" / "a.yaml").write_text("kind: CustomResourceDefinition\n")
    proc = fresh_python(_BROKEN_CHECK, str(chart), env=base_env(tmp_path))
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "1\n", "")


_LEFT_BEHIND = """
import os, sys
from pathlib import Path
from lsp_render.argocd.request import build_request
from lsp_render.core.context import SecretOptions
from lsp_render.pipeline import render
from lsp_render.secrets import scan

secrets = SecretOptions(no_secrets=True) if sys.argv[2] == "none" else SecretOptions(
    secrets_file=Path(sys.argv[2]))
docs = render(build_request(Path(sys.argv[1]), environ=dict(os.environ), secrets=secrets))
print(len(docs), len(scan._REMEMBERED))
"""


@pytest.mark.parametrize("secrets", ["none", "file"])
def test_no_answer_is_worked_out_ahead_that_nobody_asks_for(tmp_path: Path, secrets: str) -> None:
    """With --no-secrets nothing is checked: remembered answers would keep the CRD texts alive."""
    chart = _chart(tmp_path)
    (tmp_path / ".git").mkdir()
    secrets_file = tmp_path / "secrets.json"
    secrets_file.write_text(json.dumps({"kv/op": {"note": "n0te"}}))
    argument = "none" if secrets == "none" else str(secrets_file)
    proc = fresh_python(_LEFT_BEHIND, str(chart), argument, env=base_env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    count, left = proc.stdout.split()
    assert int(count) > 3  # the CRDs' documents and the ConfigMap
    assert left == "0"
