"""A provider's configuration fields and their validation, with no network and no database.

Every face (Django admin, the wizard, the API) validates an integration's configuration through
``Provider.validate_config``, which checks each value here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from providers.values import normalize_phone


@dataclass(frozen=True)
class ConfigField:
    """One input an integration needs. ``secret`` fields are stored encrypted and never shown.

    ``kind`` drives validation and the admin widget: text, phone (E.164), url, int, bool, choice.
    """

    name: str
    label: str
    secret: bool = False
    required: bool = True
    kind: str = "text"
    help_text: str = ""
    choices: tuple[str, ...] = ()
    default: Any = None


def check_kind(config_field: ConfigField, value: Any) -> str | None:
    if config_field.kind == "phone":
        try:
            normalize_phone(value)
        except ValueError as exc:
            return str(exc)
    elif config_field.kind == "url":
        parsed = urlparse(str(value))
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            return f"{config_field.label} must be an http(s) URL."
    elif config_field.kind == "int":
        try:
            int(value)
        except (TypeError, ValueError):
            return f"{config_field.label} must be a whole number."
    elif config_field.kind == "float":
        try:
            float(value)
        except (TypeError, ValueError):
            return f"{config_field.label} must be a number."
    elif config_field.kind == "choice" and str(value) not in config_field.choices:
        return f"{config_field.label} must be one of: {', '.join(config_field.choices)}."
    return None
