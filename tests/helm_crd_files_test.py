"""A rendered chart's CRDs read from its files equal Helm's own listing, or Helm is asked.

:func:`lsp_render.sources.helm.crd_files.read_crds` replaces the embedded
engine's JSON listing of ``Chart.CRDObjects()`` for charts loaded from a
directory. The oracle is Helm itself: each chart below is loaded and rendered
by the real engine (in a fresh interpreter: the test process never loads Go),
then Helm's listing and ours are compared, name, order and bytes. Charts whose
shape the reading is not sure of must give None (Helm is asked).
"""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
from pathlib import Path

import pytest

from tests.cli_helpers import base_env, fresh_python, run
from tests.realhelm import real_helm

__all__ = ["real_helm"]  # a fixture, imported for pytest

_SCRIPT = """
import json, sys
from pathlib import Path
from lsp_render.sources.helm import sdk
from lsp_render.sources.helm.crd_files import read_crd_text, read_crds

root = Path(sys.argv[1])
report = {}
for case, values in json.loads(sys.argv[2]):
    chart = sdk.load_chart(root / case)
    sdk.render(chart, json.dumps(values), {"name": "rel", "namespace": "ns",
                                           "is_install": True, "is_upgrade": False})
    metadata = sdk.chart_metadata(chart)
    ours = read_crds(root / case, metadata["name"], metadata, sdk.dependency_order(chart))
    if ours is not None:
        assert all(read_crd_text(root / case / path) == text for _, path, text in ours)
        ours = [(filename, text) for filename, _, text in ours]
    report[case + json.dumps(values)] = {"helm": sdk.chart_crds(chart), "ours": ours}
print(json.dumps(report))
"""

_CRD = (
    "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: {}\n"
)


def _chart(
    path: Path, name: str, chart_yaml: str = "", crds: dict[str, bytes] | None = None
) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "Chart.yaml").write_text(f"apiVersion: v2\nname: {name}\nversion: 0.1.0\n{chart_yaml}")
    (path / "templates").mkdir(exist_ok=True)
    (path / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Chart.Name }}\n"
    )
    for rel, data in (crds or {}).items():
        target = path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return path


def _crd(name: str) -> bytes:
    return _CRD.format(name).encode()


Cases = list[tuple[str, dict[str, object]]]


def _compare(root: Path, cases: Cases) -> dict[str, dict[str, object]]:
    proc = fresh_python(_SCRIPT, str(root), json.dumps(cases), env=base_env(root))
    assert proc.returncode == 0, proc.stderr[-2000:]
    report: dict[str, dict[str, object]] = json.loads(proc.stdout)
    return report


def _pairs(listing: object) -> list[list[str]]:
    assert isinstance(listing, list)
    return [list(item) for item in listing]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """Charts whose CRDs the files give exactly as Helm lists them."""
    root = tmp_path / "repo"
    # Walk order (a/ before a.yaml), extensions in any case, hidden names, a byte
    # order mark, CRLF, non-ASCII text, files that are not manifests.
    _chart(
        root / "order",
        "order",
        crds={
            "crds/a/x.yaml": _crd("ax"),
            "crds/a.yaml": _crd("a"),
            "crds/B.yaml": _crd("b-upper"),
            "crds/b.yml": _crd("b"),
            "crds/c.JSON": b'{"apiVersion": "apiextensions.k8s.io/v1", "kind": "Crd"}',
            "crds/d.txt": b"not a manifest",
            "crds/.yaml": _crd("dot"),
            "crds/e.Yaml": b"\xef\xbb\xbf" + _crd("bom"),
            "crds/f.yaml": _crd("crlf").replace(b"\n", b"\r\n"),
            "crds/g.yaml": "# \u201cquoted\u201d\n".encode() + _crd("g"),
            "crds/z/y/w.yaml": _crd("deep"),
        },
    )
    # The root .helmignore, applied to every path of the tree, directories too.
    ignoring = _chart(
        root / "ignoring",
        "ignoring",
        "dependencies:\n  - name: sub\n    version: 0.1.0\n",
        crds={
            "crds/keep.yaml": _crd("keep"),
            "crds/old.bak": _crd("bak"),
            "crds/old.yaml~": _crd("tilde"),
            "crds/skipdir/x.yaml": _crd("skipdir"),
            "crds/nested/top-only.yaml": _crd("nested-top-only"),
            "crds/top-only.yaml": _crd("top-only"),
            "crds/ignored.yaml": _crd("ignored"),
            "crds/dironly/x.yaml": _crd("dironly"),
            "crds/q1.yaml": _crd("q1"),
            "crds/file.yaml": _crd("file-kept-by-a-directory-rule"),
        },
    )
    (ignoring / ".helmignore").write_text(
        "# comment\r\n\r\n*.bak\r\n*~\nskipdir/\n/crds/top-only.yaml\nignored.yaml\n"
        "crds/dironly/\nq?.yaml\n  charts/sub/crds/gone.yaml  \nfile.yaml/\ncharts/other/crds/\n"
    )
    _chart(ignoring / "charts" / "other", "other", crds={"crds/o.yaml": _crd("other")})
    _chart(
        ignoring / "charts" / "sub",
        "sub",
        crds={"crds/stay.yaml": _crd("stay"), "crds/gone.yaml": _crd("gone")},
    )
    # Subcharts: named by Chart.yaml not by directory, declared out of directory
    # order, one undeclared, one behind a condition, hidden ones, a provenance file.
    deps = _chart(
        root / "deps",
        "deps",
        "dependencies:\n"
        "  - name: zeta\n    version: 0.1.0\n"
        "  - name: alpha\n    version: 0.1.0\n    condition: alpha.enabled\n",
        crds={"crds/own.yaml": _crd("own")},
    )
    _chart(deps / "charts" / "a-zeta-dir", "zeta", crds={"crds/z.yaml": _crd("zeta")})
    _chart(deps / "charts" / "z-alpha-dir", "alpha", crds={"crds/a.yaml": _crd("alpha")})
    _chart(deps / "charts" / "extra", "extra", crds={"crds/e.yaml": _crd("extra")})
    _chart(deps / "charts" / "_hidden", "zeta", crds={"crds/h.yaml": _crd("hidden")})
    _chart(deps / "charts" / ".dot", "dot", crds={"crds/d.yaml": _crd("dot")})
    (deps / "charts" / "zeta-0.1.0.tgz.prov").write_text("provenance\n")
    return root


def test_crds_read_from_files_equal_helms_listing(root: Path) -> None:
    cases: Cases = [
        ("order", {}),
        ("ignoring", {}),
        ("deps", {}),
        ("deps", {"alpha": {"enabled": False}}),
    ]
    report = _compare(root, cases)
    for key, found in report.items():
        assert found["ours"] is not None, key
        assert _pairs(found["ours"]) == _pairs(found["helm"]), key
    # The shapes above are what the cases are about: each reaches Helm's listing.
    names = {key: [pair[0] for pair in _pairs(found["helm"])] for key, found in report.items()}
    assert names["order{}"][:3] == ["order/crds/.yaml", "order/crds/B.yaml", "order/crds/a/x.yaml"]
    assert "ignoring/charts/sub/crds/stay.yaml" in names["ignoring{}"]
    assert len(names["ignoring{}"]) == 4
    assert "deps/charts/alpha/crds/a.yaml" in names["deps{}"]
    assert "deps/charts/alpha/crds/a.yaml" not in names['deps{"alpha": {"enabled": false}}']
    assert names["deps{}"][1] == "deps/charts/extra/crds/e.yaml"  # the undeclared one first


def _tgz(name: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for rel, data in (
            ("Chart.yaml", f"apiVersion: v2\nname: {name}\nversion: 0.1.0\n".encode()),
            ("crds/t.yaml", _crd(name)),
        ):
            info = tarfile.TarInfo(f"{name}/{rel}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_shapes_it_is_not_sure_of_are_left_to_helm(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    negated = _chart(root / "negated", "negated", crds={"crds/a.yaml": _crd("a")})
    (negated / ".helmignore").write_text("!Chart.yaml\n")  # everything else ignored
    classes = _chart(root / "classes", "classes", crds={"crds/c.yaml": _crd("c")})
    (classes / ".helmignore").write_text("[ab].yaml\n")
    escaped = _chart(root / "escaped", "escaped", crds={"crds/c.yaml": _crd("c")})
    (escaped / ".helmignore").write_text("\\a.yaml\n")
    aliased = _chart(
        root / "aliased",
        "aliased",
        "dependencies:\n  - name: sub\n    version: 0.1.0\n    alias: other\n",
    )
    _chart(aliased / "charts" / "sub", "sub", crds={"crds/s.yaml": _crd("s")})
    archived = _chart(root / "archived", "archived")
    (archived / "charts").mkdir()
    (archived / "charts" / "packed-0.1.0.tgz").write_bytes(_tgz("packed"))
    nested = _chart(root / "nested", "nested")
    _chart(nested / "charts" / "mid", "mid")
    _chart(nested / "charts" / "mid" / "charts" / "inner", "inner", crds={"crds/i.yaml": _crd("i")})
    _chart(root / "latin", "latin", crds={"crds/a.yaml": b"# caf\xe9\n" + _crd("a")})
    linked = _chart(root / "linked", "linked", crds={"real/a.yaml": _crd("a")})
    (linked / "crds").mkdir()
    (linked / "crds" / "a.yaml").symlink_to(linked / "real" / "a.yaml")
    v3 = _chart(root / "v3", "v3", crds={"crds/a.yaml": _crd("a")})
    (v3 / "Chart.yaml").write_text("apiVersion: v3\nname: v3\nversion: 0.1.0\n")
    shapes = ["negated", "classes", "escaped", "aliased", "archived", "nested", "latin"]
    shapes += ["linked", "v3"]
    cases: Cases = [(name, {}) for name in shapes]
    report = _compare(root, cases)
    for key, found in report.items():
        assert found["ours"] is None, key
    # Helm itself lists something for each, so None is a real refusal, not an empty answer.
    assert [key for key, found in report.items() if not found["helm"]] == ["negated{}"]


_WIRING = """
import sys
from pathlib import Path
from lsp_render.sources.helm import HelmInputs, embedded, sdk
from lsp_render.sources.helm.crd_files import read_crd_text
from lsp_render.sources.helm.output import crd_section

asked = []
listing = sdk.chart_crds
def recorded(chart):
    asked.append(1)
    return listing(chart)

sdk.chart_crds = recorded
root = Path(sys.argv[1])
for name in sys.argv[2:]:
    asked.clear()
    inputs = HelmInputs(chart_dir=root / name, repo_root=root, release_name="rel",
                        namespace="ns", include_crds=True)
    result = embedded.render_parts_here(inputs)
    crds = [crd_section(filename, read_crd_text(root / name / path))
            for filename, path in result.crd_files or ()]
    count = "".join(crds + result.parts).count("kind: CustomResourceDefinition")
    print(name, "helm" if asked else "files", count)
"""


def test_the_engine_reads_files_where_it_can_and_asks_helm_elsewhere(root: Path) -> None:
    aliased = _chart(
        root / "aliased",
        "aliased",
        "dependencies:\n  - name: sub\n    version: 0.1.0\n    alias: other\n",
    )
    _chart(aliased / "charts" / "sub", "sub", crds={"crds/s.yaml": _crd("s")})
    (root / ".git").mkdir()
    proc = fresh_python(_WIRING, str(root), "order", "deps", "aliased", env=base_env(root))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split("\n")[:3] == ["order files 9", "deps files 4", "aliased helm 1"]


def test_the_command_prints_what_real_helm_prints(root: Path, real_helm: Path) -> None:
    """The native oracle: ``helm template --include-crds`` itself, on each shape read from files."""
    (root / ".git").mkdir()
    env = base_env(root)
    env["PATH"] = f"{root / 'no-helm'}:{env['PATH']}"
    env.pop("LSP_RENDER_HELM", None)
    cases = [("order", []), ("ignoring", []), ("deps", []), ("deps", ["alpha.enabled=false"])]
    for chart, sets in cases:
        set_args = [arg for value in sets for arg in ("--set", value)]
        ours = run(
            [
                "render",
                str(root / chart),
                "--release-name",
                "rel",
                "--namespace",
                "ns",
                "--no-secrets",
                *set_args,
            ],
            env=env,
        )
        assert ours.code == 0, ours.stderr
        theirs = subprocess.run(
            [
                str(real_helm),
                "template",
                "rel",
                str(root / chart),
                "--namespace",
                "ns",
                "--include-crds",
                *set_args,
            ],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
        assert ours.stdout == theirs.stdout, (chart, sets)
