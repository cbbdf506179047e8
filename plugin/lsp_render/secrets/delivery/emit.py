"""Write an operator's custom resource as the YAML text of a document.

Block style, keys in the order built, multi-line strings as literal blocks, no
line folding; the comment lines that opened the original document (Helm's
``# Source:``) are kept in front.
"""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["dump_object"]


class _Dumper(yaml.SafeDumper):
    """A safe dumper that writes multi-line strings as literal blocks and no aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        """Never write an anchor: the same labels may stand twice in an object."""
        del data
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump_object(obj: dict[str, Any], original: str) -> str:
    """Return ``obj`` as document text, after the leading comments of ``original``.

    Parameters
    ----------
    obj
        The object.
    original
        The text of the document it replaces.

    Returns
    -------
    str
        The text, ending in a newline.
    """
    head = []
    for line in original.splitlines(keepends=True):
        if not line.startswith("#"):
            break
        head.append(line if line.endswith("\n") else line + "\n")
    body = yaml.dump(
        obj,
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=1 << 30,
    )
    return "".join(head) + body
