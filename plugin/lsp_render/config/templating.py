"""Jinja2 in configuration strings, evaluated in a sandbox over a read-only context.

Only strings that contain ``{{`` or ``{%`` are templates; everything else is
returned as it is without importing Jinja2 at all (a plain render stays light).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from lsp_render.core.errors import InputError

if TYPE_CHECKING:
    from jinja2 import Template
    from jinja2.sandbox import ImmutableSandboxedEnvironment

__all__ = ["is_template", "render_template", "render_tree"]


def is_template(text: str) -> bool:
    """Tell whether ``text`` holds Jinja2 syntax."""
    return "{{" in text or "{%" in text or "{#" in text


@lru_cache(maxsize=1)
def _environment() -> ImmutableSandboxedEnvironment:
    from jinja2 import DictLoader, StrictUndefined
    from jinja2.exceptions import SecurityError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    from lsp_render.config.bounds import check_call, guard_filters, too_large

    class _Bounded(ImmutableSandboxedEnvironment):
        intercepted_binops = frozenset({"*", "**", "%"})

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            if too_large(operator, left, right):
                msg = f"the result of '{operator}' would be too large"
                raise SecurityError(msg)
            return super().call_binop(context, operator, left, right)

        def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
            check_call(__obj, args, kwargs)
            return super().call(__context, __obj, *args, **kwargs)

    env = _Bounded(
        loader=DictLoader({}),  # {% include %} and {% import %} find nothing
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
    )
    env.globals.clear()
    env.filters = dict(env.filters)
    guard_filters(env.filters)
    return env


@lru_cache(maxsize=512)
def _compiled(text: str) -> Template:
    """Compile a template once per process (render-all renders the same ones per pair)."""
    return _environment().from_string(text)


def render_template(text: str, context: Mapping[str, Any], *, where: str) -> str:
    """Render one template string in the sandbox.

    Parameters
    ----------
    text
        The string; returned unchanged when it holds no Jinja2 syntax.
    context
        The read-only variables (``app``, ``env``, ``kube_version``, ``params``,
        ``envdata``).
    where
        Names the file and key for error messages (``lsp-render.yaml: helm.valueFiles[1]``).

    Raises
    ------
    InputError
        On a syntax error, an undefined variable, or a sandbox violation.
    """
    if not is_template(text):
        return text
    from jinja2 import TemplateError
    from jinja2.exceptions import SecurityError

    from lsp_render.config.bounds import TIME_BUDGET, TemplateTimeout, bounded_text, deadline

    try:
        with deadline(TIME_BUDGET):
            template = _compiled(text)
            return bounded_text(template.generate(dict(context)))
    except TemplateTimeout:
        msg = f"{where}: template refused: it ran longer than {TIME_BUDGET:g} s"
        raise InputError(msg) from None
    except (MemoryError, OverflowError, RecursionError) as exc:
        msg = f"{where}: template refused: {type(exc).__name__} (the result is too large)"
        raise InputError(msg) from None
    except SecurityError as exc:
        msg = f"{where}: template refused by the sandbox: {_one_line(exc)}"
        raise InputError(msg) from None
    except TemplateError as exc:
        msg = f"{where}: template error: {_one_line(exc)}"
        raise InputError(msg) from None


def render_tree(value: Any, context: Mapping[str, Any], *, where: str) -> Any:
    """Render every string inside a nested structure of dicts and lists (keys left alone)."""
    if isinstance(value, str):
        return render_template(value, context, where=where)
    if isinstance(value, Mapping):
        return {k: render_tree(v, context, where=f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [render_tree(v, context, where=f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
