"""``lsp-render render`` parsed without click gives exactly what click would (cli.py fast path)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lsp_render.cli.commands import cli, render
from lsp_render.cli.main import parse_plain_render
from tests.cli_helpers import EXAMPLES, modules_after


def _click_params(args: list[str]) -> dict[str, object]:
    with render.make_context("render", list(args)) as ctx:
        return dict(ctx.params)


def test_the_fast_path_knows_every_render_option_and_only_those() -> None:
    from lsp_render.cli import main as fast

    known = {*fast._RENDER_VALUES, *fast._RENDER_MULTIPLE, *fast._RENDER_FLAGS}
    declared = {opt for param in render.params for opt in param.opts if opt.startswith("-")}
    assert known == declared
    for param in render.params:
        if param.name == "app_dir":
            continue
        for opt in param.opts:
            if opt in fast._RENDER_FLAGS:
                assert getattr(param, "is_flag", False), opt
                assert fast._RENDER_FLAGS[opt] == param.name
            elif opt in fast._RENDER_MULTIPLE:
                assert getattr(param, "multiple", False), opt
                assert fast._RENDER_MULTIPLE[opt] == param.name
            else:
                assert not getattr(param, "multiple", False), opt
                assert fast._RENDER_VALUES[opt] == param.name


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["app"],
        ["--env", "dev", "app"],
        ["app", "--env=dev", "--env", "prod"],
        ["--set", "a=1", "--set=b=-2", "-f", "x.yaml", "--values", "y.yaml", "-v"],
        ["--api-versions", "a/v1", "--api-versions=b/v1,c/v1", "--kube-version", "1.29"],
        ["--release-name", "r", "--namespace", "ns", "--no-secrets", "--mask-secrets"],
        ["--verbose", "--secrets-file", "missing.yaml", "--env", ""],
        ["--validate", "app", "--strict"],
        ["--application", "a.yaml", "--env", "dev"],
    ],
)
def test_plain_render_arguments_parse_as_click_parses_them(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "app").mkdir()
    fast = parse_plain_render(["render", *args])
    assert fast == _click_params(args)


@pytest.mark.parametrize(
    "args",
    [
        ["parameters"],
        ["--version"],
        ["render", "--help"],
        ["render", "-h"],
        ["render", "--unknown"],
        ["render", "a", "b"],
        ["render", "--env"],
        ["render", "--env", "--no-secrets"],
        ["render", "-vf", "x.yaml"],
        ["render", "--", "app"],
        ["render", "--no-secrets=1"],
        ["render", "cm.yaml"],
        ["render", "--secrets-file", "."],
        ["render", "--secrets-file="],
        ["render", ""],
    ],
)
def test_anything_else_is_left_to_click(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cm.yaml").write_text("a: 1\n")
    assert parse_plain_render(args) is None


def test_unreadable_app_dir_is_left_to_click(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0)
    try:
        if os.access(locked, os.R_OK):  # root reads anything: nothing to leave to click
            assert parse_plain_render(["render", str(locked)]) is not None
        else:
            assert parse_plain_render(["render", str(locked)]) is None
    finally:
        locked.chmod(0o700)


def _run(args: list[str], home: Path) -> dict[str, object]:
    code, modules = modules_after(args, home)
    return {"code": code, "click": "click" in modules}


def test_a_plain_render_does_not_import_click(tmp_path: Path) -> None:
    report = _run(["render", str(EXAMPLES / "helm"), "--env", "dev"], tmp_path)
    assert report == {"code": 0, "click": False}


def test_help_still_lists_every_command_through_click(tmp_path: Path) -> None:
    report = _run(["render", "--help"], tmp_path)
    assert report == {"code": 0, "click": True}
    with cli.make_context("lsp-render", ["--help"], resilient_parsing=True) as ctx:
        assert set(cli.list_commands(ctx)) >= {"render", "init", "diff", "render-all"}
        assert cli.get_command(ctx, "render-all") is not None
        assert cli.get_command(ctx, "diff") is not None
