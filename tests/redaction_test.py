"""core.redaction: every form of a value is scrubbed; a leftover fragment makes a text unsafe."""

from __future__ import annotations

import base64
import json

import pytest

from lsp_render.core.redaction import REDACTED, redact, secret_forms

VALUE = 'S3cr3t  Pa55\nw0rd"q'


@pytest.mark.parametrize(
    "shown",
    [
        VALUE,
        " ".join(VALUE.split()),  # collapsed
        json.dumps(VALUE)[1:-1],  # JSON-escaped
        VALUE.replace('"', '\\"').replace("\n", "\\n"),  # %q
        'S3cr3t Pa55\\nw0rd"q',  # spaces collapsed, line break escaped (schema error)
        base64.b64encode(VALUE.encode()).decode(),
        base64.b64encode(VALUE.encode()).decode().rstrip("="),
        base64.urlsafe_b64encode(VALUE.encode()).decode(),
        VALUE.upper(),
    ],
)
def test_each_form_is_scrubbed(shown: str) -> None:
    text, safe = redact(f"error: got {shown}!", [VALUE])
    assert text == f"error: got {REDACTED}!"
    assert safe


@pytest.mark.parametrize("prefix", ["", "x", "xy"])
def test_base64_of_a_value_inside_a_longer_string(prefix: str) -> None:
    encoded = base64.b64encode(f"{prefix}user:{VALUE}:tail".encode()).decode()
    text, safe = redact(f"bad {encoded}", [VALUE])
    assert safe
    # What is left of the encoding (the prefix and tail) no longer decodes to the value.
    assert all(form not in text for form in secret_forms(VALUE) if len(form) >= 8)


def test_a_slice_of_a_value_is_unsafe() -> None:
    _, safe = redact(f"bad {VALUE[1:12]}", [VALUE])
    assert not safe


def test_a_longer_resolved_string_does_not_make_its_prefix_unsafe() -> None:
    dsn = f"postgres://{VALUE}@db"
    text, safe = redact("dsn starts postgres://" + VALUE, [dsn, VALUE])
    assert (text, safe) == (f"dsn starts postgres://{REDACTED}", True)


def test_ordinary_text_is_left_alone() -> None:
    assert redact("template: app/templates/cm.yaml:3: nil pointer", [VALUE]) == (
        "template: app/templates/cm.yaml:3: nil pointer",
        True,
    )
