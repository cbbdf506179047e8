"""``--validate`` / ``--strict``: rendered objects against Kubernetes' schemas and their CRDs'.

Kubernetes' schemas are those the ``kubernetes-validate`` package ships; a CRD's
``openAPIV3Schema`` from the same render checks its custom resources.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_helpers import assert_failure, run

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
        - name: web
          image: nginx:1.27
          ports:
            - containerPort: 80
          readinessProbe:
            httpGet: {{path: /, port: http}}
"""

CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.org
spec:
  group: example.org
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              required: [size]
              properties:
                size: {type: integer, minimum: 1}
                color: {type: string, enum: [red, blue], nullable: true}
                port: {x-kubernetes-int-or-string: true}
                extra: {type: object, x-kubernetes-preserve-unknown-fields: true}
"""

WIDGET = """\
apiVersion: example.org/v1
kind: Widget
metadata:
  name: w1
spec:
{spec}
"""


def _app(tmp_path: Path, **files: str) -> Path:
    app = tmp_path / "repo" / "app"
    app.mkdir(parents=True)
    (tmp_path / "repo" / ".git").mkdir()
    for name, text in files.items():
        (app / f"{name}.yaml").write_text(text)
    return app


def test_deployment_with_string_replicas_fails(tmp_path: Path) -> None:
    app = _app(tmp_path, deploy=DEPLOYMENT.format(replicas='"three"'))
    result = run(["render", str(app), "--validate"])
    assert_failure(result, 1, "Deployment shop/web", "spec.replicas", "must be integer")
    assert "three" not in result.stderr  # the value found is never shown
    ok = run(["render", str(app)])
    assert ok.code == 0  # without --validate the render passes


def test_valid_objects_and_unknown_kinds_pass(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        deploy=DEPLOYMENT.format(replicas=3),
        other="apiVersion: acme.io/v1\nkind: Gadget\nmetadata: {name: g}\nspec: {any: thing}\n",
        fake="apiVersion: apps.acme.io/v1\nkind: Deployment\nmetadata: {name: d}\n"
        "spec: {replicas: lots}\n",
    )
    result = run(["render", str(app), "--validate", "--kube-version", "1.30"])
    assert result.code == 0, result.stderr
    assert result.stderr.strip().splitlines() == [
        "lsp-render: app: validated 1 objects against Kubernetes 1.30 schemas; 2 without "
        "schema: acme.io/v1 Gadget (1), apps.acme.io/v1 Deployment (1)"
    ]
    strict = run(["render", str(app), "--strict"])
    assert_failure(strict, 1, "no schema for", "acme.io/v1 Gadget", "--strict")


def test_custom_resource_checked_against_its_crd(tmp_path: Path) -> None:
    good = "  size: 2\n  color: null\n  port: http\n  extra: {a: [1, {b: 2}]}"
    app = _app(tmp_path, crd=CRD, widget=WIDGET.format(spec=good))
    assert run(["render", str(app), "--validate", "--strict"]).code == 0
    (app / "widget.yaml").write_text(WIDGET.format(spec="  size: 0\n  color: green\n  port: 8080"))
    result = run(["render", str(app), "--validate"])
    assert_failure(result, 1, "Widget w1", "spec.color: must be one of", "spec.size: minimum: 1")
    (app / "widget.yaml").write_text(WIDGET.format(spec="  color: red"))
    assert_failure(
        run(["render", str(app), "--validate"]), 1, "Widget w1", "required field size is missing"
    )


def test_kube_version_outside_the_shipped_schemas(tmp_path: Path) -> None:
    app = _app(tmp_path, deploy=DEPLOYMENT.format(replicas=1))
    assert_failure(run(["render", str(app), "--validate", "--kube-version", "1.2"]), 2, "1.2")
    assert_failure(run(["render", str(app), "--validate", "--kube-version", "x"]), 2, "'x'")


@pytest.mark.parametrize(("version", "ok"), [("1.30", False), ("1.34", True)])
def test_schema_of_the_target_version(tmp_path: Path, version: str, ok: bool) -> None:
    """StatefulSet.spec.serviceName is required in 1.30's OpenAPI, optional since 1.32."""
    sts = (
        "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: db}\nspec:\n"
        "  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n"
        "    spec: {containers: [{name: c, image: i}]}\n"
    )
    app = _app(tmp_path, sts=sts)
    result = run(["render", str(app), "--validate", "--kube-version", version])
    assert (result.code == 0) is ok, result.stderr
    if not ok:
        assert "StatefulSet db: spec: required field serviceName is missing" in result.stderr


def test_render_all_validate_reports_per_pair(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    for name, replicas in (("good", "2"), ("bad", '"three"')):
        app = root / "apps" / name
        app.mkdir(parents=True)
        (app / "deploy.yaml").write_text(DEPLOYMENT.format(replicas=replicas))
    (root / ".git").mkdir()
    out = tmp_path / "out"
    result = run(["render-all", str(root), "--validate", "--output-dir", str(out), "-j", "1"])
    assert result.code == 1
    failed = [line for line in result.stdout.splitlines() if line.startswith("FAILED")]
    assert failed == [
        "FAILED apps/bad: validation failed: Deployment shop/web: spec.replicas: must be integer"
    ]
    assert "validation: 1 objects checked\n" in result.stdout
    assert (out / "apps" / "good.yaml").is_file()
    assert not (out / "apps" / "bad.yaml").exists()


def test_diff_validate_checks_the_new_side(tmp_path: Path) -> None:
    app = _app(tmp_path, deploy=DEPLOYMENT.format(replicas='"three"'))
    args = ["diff", str(app), "--env", "dev", "--against-env", "prod"]
    assert run(args).code == 0  # the same plain manifests on both sides
    assert_failure(run([*args, "--validate"]), 2, "Deployment shop/web", "spec.replicas")


def test_render_all_kube_version_selects_the_schemas(tmp_path: Path) -> None:
    sts = (
        "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: db}\nspec:\n"
        "  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n"
        "    spec: {containers: [{name: c, image: i}]}\n"
    )
    app = _app(tmp_path, sts=sts)
    root = app.parent
    assert run(["render-all", str(root), "--validate", "-j", "1"]).code == 0
    old = run(["render-all", str(root), "--validate", "--kube-version", "1.30", "-j", "1"])
    assert old.code == 1
    assert "FAILED app: validation failed: StatefulSet db: spec: required field serviceName" in (
        old.stdout
    )


def test_null_int_or_string_is_an_unset_field(tmp_path: Path) -> None:
    """IntOrString's two branches both admit null; the API server takes null as unset."""
    svc = (
        "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n"
        "  ports:\n    - {port: 80, targetPort: null}\n    - {port: 81, targetPort: http}\n"
    )
    app = _app(tmp_path, svc=svc)
    result = run(["render", str(app), "--validate"])
    assert result.code == 0, result.stderr
    (app / "svc.yaml").write_text(svc.replace("targetPort: http", "targetPort: [1]"))
    assert_failure(run(["render", str(app), "--validate"]), 1, "spec.ports[1].targetPort: must be")
