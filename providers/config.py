"""A provider's configuration fields and their validation, with no network and no database.

Every face (Django admin, the wizard, the API) validates an integration's configuration through
``Provider.validate_config``, which checks each value here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from providers.values import SECRET_MASK, normalize_phone


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


def describe(config_field: ConfigField) -> dict[str, Any]:
    """The field as JSON for API clients; a secret field never shows a default."""
    return {
        "name": config_field.name,
        "label": config_field.label,
        "secret": config_field.secret,
        "required": config_field.required,
        "kind": config_field.kind,
        "help_text": config_field.help_text,
        "choices": list(config_field.choices),
        "default": None if config_field.secret else config_field.default,
    }


def is_masked_hint(value: Any) -> bool:
    """A masked hint (``••••8901``) sent back unchanged: the client means "keep the stored value"."""
    return isinstance(value, str) and value.startswith(SECRET_MASK)


def split_settings(
    fields: Iterable[ConfigField], data: Mapping[str, Any] | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """One flat settings dict → (config, credentials), by the fields' secret flags.

    A secret left blank, or sent back as its masked hint, is dropped: it keeps the stored value.
    Keys that are not secret fields go to ``config``, where validation judges them.
    """
    secret_names = {f.name for f in fields if f.secret}
    config: dict[str, Any] = {}
    credentials: dict[str, Any] = {}
    for key, value in (data or {}).items():
        if key in secret_names:
            if value in (None, "") or is_masked_hint(value):
                continue
            credentials[key] = value
        else:
            config[key] = value
    return config, credentials
