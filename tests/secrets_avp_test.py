"""AVP golden behaviour: manifests written for AVP render to the objects AVP renders.

Each ``tests/data/secrets/avp/NAME.in.yaml`` is substituted through the public
facade with the real file backend (``tests/data/secrets/secrets.yaml``) and must
parse to the same objects as ``NAME.out.yaml``. The cases follow AVP's own
fixtures (``fixtures/input/nonempty`` and ``fixtures/output`` in
argoproj-labs/argocd-vault-plugin); where lsp-render deliberately differs (keys
are never substituted, ``indent`` keeps blank lines) the expectation says so.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from lsp_render.core.context import AppInfo, RenderRequest, SecretOptions
from lsp_render.core.errors import InputError
from lsp_render.core.manifests import Document, join_stream, split_stream
from lsp_render.secrets import substitute_documents

DATA = Path(__file__).parent / "data" / "secrets"
CASES = sorted(path.name.removesuffix(".in.yaml") for path in (DATA / "avp").glob("*.in.yaml"))


def _request(tmp_path: Path, **options: Any) -> RenderRequest:
    return RenderRequest(
        app_dir=tmp_path,
        repo_root=tmp_path,
        app=AppInfo("app"),
        secrets=SecretOptions(secrets_file=DATA / "secrets.yaml", **options),
    )


def _render(name: str, tmp_path: Path) -> str:
    source = (DATA / "avp" / f"{name}.in.yaml").read_text()
    docs = split_stream(source, f"{name}.in.yaml")
    return join_stream(substitute_documents(docs, _request(tmp_path)))


def test_every_case_is_present() -> None:
    assert set(CASES) >= {
        "base64",
        "configmap",
        "fake-placeholders",
        "generic",
        "ignore",
        "modifiers",
        "remove-missing",
        "versioned",
    }


@pytest.mark.parametrize("name", CASES)
def test_renders_what_avp_renders(name: str, tmp_path: Path) -> None:
    rendered = _render(name, tmp_path)
    expected = (DATA / "avp" / f"{name}.out.yaml").read_text()
    objects = list(yaml.safe_load_all(rendered))
    assert objects == list(yaml.safe_load_all(expected))
    if name not in ("ignore", "fake-placeholders"):
        assert "<path:" not in json.dumps(objects)


def test_the_base64_case_names_its_placeholders_only_in_base64() -> None:
    """Only the scan's base64 markers can pick this Secret: no literal placeholder anywhere."""
    text = (DATA / "avp" / "base64.in.yaml").read_text()
    secret = next(part for part in text.split("\n---\n") if "example-secret-base64" in part)
    for needle in ("<path:", "u003cpath:", "u003Cpath:", "avp.kubernetes.io/"):
        assert needle not in secret


def test_untouched_cases_come_out_byte_for_byte(tmp_path: Path) -> None:
    for name in ("ignore", "fake-placeholders"):
        source = (DATA / "avp" / f"{name}.in.yaml").read_text()
        docs = split_stream(source, name)
        out = substitute_documents(docs, _request(tmp_path))
        assert all(a is b for a, b in zip(out, docs, strict=True))


def test_indent_keeps_blank_lines_and_inner_indentation(tmp_path: Path) -> None:
    (configmap,) = yaml.safe_load_all(_render("configmap", tmp_path))
    embedded = yaml.safe_load(configmap["data"]["config.yaml"])
    secrets = yaml.safe_load((DATA / "secrets.yaml").read_text())
    assert embedded["tls"]["key"] == secrets["secret/data/pgp"]["key"]
    assert "\n\n" in embedded["tls"]["key"]
    assert "\n  indented line\n" in embedded["tls"]["key"]


def test_keys_are_never_substituted(tmp_path: Path) -> None:
    text = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ndata:\n"
        "  <path:secret/testing#secret-var-value>: SECRET_VAL\n"
        "  SECRET_KEY: <path:secret/testing#secret-var-value>\n"
    )
    out = substitute_documents([Document(text, "s.yaml")], _request(tmp_path))
    assert yaml.safe_load(out[0].text)["data"] == {
        "<path:secret/testing#secret-var-value>": "SECRET_VAL",
        "SECRET_KEY": "test-password",
    }


def test_remove_missing_only_on_secret_and_configmap(tmp_path: Path) -> None:
    text = (
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: svc\n  annotations:\n"
        '    avp.kubernetes.io/remove-missing: "true"\nspec:\n'
        "  type: <path:secret/testing#name>\n"
    )
    with pytest.raises(InputError, match="Service/svc .*remove-missing can only be used on Secret"):
        substitute_documents([Document(text, "svc.yaml")], _request(tmp_path))
