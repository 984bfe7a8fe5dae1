"""Form pieces more than one app uses."""

from __future__ import annotations

import json
from typing import Any

from django import forms


def advanced_json(form: forms.Form, cleaned: dict[str, Any], example: str,
                  field: str = "advanced_json") -> dict[str, Any] | None:
    """The settings typed in a form's "advanced JSON" box: {} when it is empty, None (with the
    box's error added to the form) when it is not a JSON object."""
    text = (cleaned.get(field) or "").strip()
    if not text:
        return {}
    try:
        extra = json.loads(text)
    except json.JSONDecodeError as exc:
        form.add_error(field, f"Not valid JSON: {exc}")
        return None
    if not isinstance(extra, dict):
        form.add_error(field, f"Give a JSON object, e.g. {example}.")
        return None
    return extra
