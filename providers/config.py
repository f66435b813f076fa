"""A provider's configuration fields and the one validator built from them (no network, no
database).

Every face (Django admin, the wizard, the API) validates an integration's configuration through
``Provider.validate_config``, which calls ``validate_settings`` here. A tenant admin is
untrusted input, so the validator is strict and bounded:

* ``config`` holds only declared non-secret fields (the provider's own plus ``COMMON_FIELDS``);
  an unknown key is refused, and a secret field or a key that looks like a credential
  (``api_key``, ``token``, ``password``, ``secret``…) is refused with a message that says where
  it belongs. ``credentials`` holds only declared secret fields.
* Each value is checked by its field's kind: numbers are finite and inside the field's bounds
  (bools are not numbers), URLs go through the egress policy, price overrides are checked by
  building the price model and pricing with it (``providers.pricing_overrides``).
* Whatever the shape: nesting depth, number of values and total text are bounded, and NUL
  characters and lone surrogates (which PostgreSQL's jsonb refuses) are refused.

The answer is a dict of field name → messages, every problem at once.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from providers.egress import egress_policy, url_problem
from providers.pricing import PriceModel
from providers.pricing_overrides import parse_number, price_overrides_problem
from providers.values import SECRET_MASK, normalize_phone

KINDS = ("text", "phone", "url", "int", "float", "bool", "choice", "pricing")
MAX_DEPTH = 5
MAX_VALUES = 500
MAX_TOTAL_TEXT = 64_000
MAX_KEY_LENGTH = 100
MAX_ERRORS_PER_PART = 20
SECRET_LOOKING = re.compile(
    r"pass(word|wd|phrase)?|secret|token|api[-_]?key|apikey|access[-_]?key|private[-_]?key|"
    r"credential|authorization|bearer|cookie|session[-_]?(id|key)",
    re.IGNORECASE,
)
TRUE_WORDS, FALSE_WORDS = ("true", "1", "on", "yes"), ("false", "0", "off", "no", "")


@dataclass(frozen=True)
class ConfigField:
    """One input an integration needs. ``secret`` fields are stored encrypted and never shown.

    ``kind`` drives validation and the admin widget (one of ``KINDS``). Numbers are bounded by
    ``min_value``/``max_value`` (``exclusive_min``: strictly greater); text by ``max_length``.
    ``destination`` marks a field that decides where requests, and so credentials, are sent
    (a base URL): changing it requires the secrets again.
    """

    name: str
    label: str
    secret: bool = False
    required: bool = True
    kind: str = "text"
    help_text: str = ""
    choices: tuple[str, ...] = ()
    default: Any = None
    min_value: float | None = None
    max_value: float | None = None
    exclusive_min: bool = False
    max_length: int = 500
    destination: bool = False


# Settings every integration may carry whatever its provider: read by delivery, webhooks and
# cost analytics rather than by the adapter.
COMMON_FIELDS = (
    ConfigField("pricing", "Price overrides", kind="pricing", required=False,
                help_text="unit_price, monthly_fee, currency, category_prices, billing_increment_seconds, "
                          "minimum_billable_seconds, tiers."),
    ConfigField("delivery_receipts", "Enable delivery receipts", kind="bool", required=False, default=True),
    ConfigField("require_webhook_signature", "Require webhook signature verification", kind="bool",
                required=False, default=True),
    ConfigField("business_hours_auto_reply", "Business-hours auto-reply", required=False, max_length=1000),
    # Pacing, not an error: delivery spaces this integration's sends across every worker.
    ConfigField("send_rate_limit", "Sends per second", kind="float", required=False, min_value=0, max_value=10_000,
                help_text="Most messages (or calls) per second sent through this integration, across all workers; "
                          "0 = unlimited. Empty = the provider's documented default."),
)

def string_problem(text: str) -> str | None:
    if "\x00" in text:
        return "contains a NUL character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains an invalid character (a lone surrogate)"
    return None


def structure_problem(value: Any) -> str | None:
    """Why ``value`` is not a bounded JSON-like tree, or None. Iterative: depth costs no stack."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    count = text = 0
    while stack:
        item, depth = stack.pop()
        count += 1
        if count > MAX_VALUES:
            return f"holds more than {MAX_VALUES} values"
        if isinstance(item, Mapping | list | tuple):
            if depth >= MAX_DEPTH:
                return f"is nested more than {MAX_DEPTH} levels deep"
            children = item.items() if isinstance(item, Mapping) else ((None, child) for child in item)
            for key, child in children:
                if key is not None:
                    if not isinstance(key, str):
                        return "has a key that is not text"
                    if len(key) > MAX_KEY_LENGTH:
                        return f"has a key longer than {MAX_KEY_LENGTH} characters"
                    problem = string_problem(key)
                    if problem:
                        return f"has a key that {problem}"
                    text += len(key)
                stack.append((child, depth + 1))
        elif isinstance(item, str):
            problem = string_problem(item)
            if problem:
                return problem
            text += len(item)
        elif isinstance(item, float) and not math.isfinite(item):
            return "holds a number that is not finite"
        elif item is not None and not isinstance(item, bool | int | float | Decimal):
            return f"holds a value of an unsupported type ({type(item).__name__})"
        if text > MAX_TOTAL_TEXT:
            return f"holds more than {MAX_TOTAL_TEXT} characters of text"
    return None


def secret_looking(key: str) -> bool:
    return bool(SECRET_LOOKING.search(key))


def _nested_secret_key(value: Any) -> str | None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, Mapping):
            for key, child in item.items():
                if isinstance(key, str) and secret_looking(key):
                    return key
                stack.append(child)
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return None


def _bounds_problem(config_field: ConfigField, number: float) -> str | None:
    low, high = config_field.min_value, config_field.max_value
    too_low = low is not None and (number <= low if config_field.exclusive_min else number < low)
    if too_low or (high is not None and number > high):
        if low is not None and high is not None and not config_field.exclusive_min:
            return f"{config_field.label} must be between {low:g} and {high:g}."
        lower = "" if low is None else (f"greater than {low:g}" if config_field.exclusive_min else f"at least {low:g}")
        upper = "" if high is None else f"at most {high:g}"
        return f"{config_field.label} must be {' and '.join(part for part in (lower, upper) if part)}."
    return None


def check_kind(config_field: ConfigField, value: Any, *, price_model: PriceModel | None = None) -> str | None:
    """Why ``value`` is not acceptable for ``config_field``, or None."""
    label, kind = config_field.label, config_field.kind
    if kind in ("int", "float"):
        number = parse_number(value, integer=kind == "int")
        if number is None:
            return f"{label} must be a {'whole number' if kind == 'int' else 'finite number'}."
        return _bounds_problem(config_field, number)
    if kind == "bool":
        if isinstance(value, bool) or (isinstance(value, str) and value.strip().lower() in TRUE_WORDS + FALSE_WORDS):
            return None
        return f"{label} must be true or false."
    if kind == "pricing":
        return price_overrides_problem(price_model or PriceModel(), value)
    if isinstance(value, bool) or not isinstance(value, str | int):
        return f"{label} must be text."
    text = str(value)
    if len(text) > config_field.max_length:
        return f"{label} must be at most {config_field.max_length} characters."
    if kind == "phone":
        try:
            normalize_phone(text)
        except ValueError as exc:
            return str(exc)
    elif kind == "url":
        # A destination is where this server connects (the egress policy applies); any other
        # URL is fetched by someone else (the provider) and only its shape is checked.
        problem = url_problem(text, egress_policy() if config_field.destination else None)
        if problem:
            return f"{label}: the URL {problem}."
    elif kind == "choice" and text not in config_field.choices:
        return f"{label} must be one of: {', '.join(config_field.choices)}."
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


def validate_settings(
    fields: Iterable[ConfigField],
    config: Any,
    credentials: Any,
    *,
    price_model: PriceModel | None = None,
) -> dict[str, list[str]]:
    """Every problem of ``config`` and ``credentials`` against ``fields``, by field name."""
    fields = tuple(fields)
    errors: dict[str, list[str]] = {}

    def add(name: Any, message: str) -> None:
        key = name if isinstance(name, str) and len(name) <= MAX_KEY_LENGTH and not string_problem(name) else "config"
        errors.setdefault(key, []).append(message)

    for part, source in (("config", config), ("credentials", credentials)):
        if not isinstance(source, Mapping):
            add(part, f"{part.capitalize()} must be an object.")
            continue
        problem = structure_problem(source)
        if problem:
            # Name the value at fault when one is; the whole part when the keys are.
            culprit = next((key for key, value in source.items() if structure_problem({key: value})), part)
            add(culprit if part == "config" else part, f"{part.capitalize()} {problem}.")
    if errors:
        return errors

    by_name = {config_field.name: config_field for config_field in fields}
    secret_names = {name for name, config_field in by_name.items() if config_field.secret}
    for key in config:
        if len(errors) >= MAX_ERRORS_PER_PART:
            break
        if key in secret_names:
            add(key, f"{by_name[key].label} is a credential: send it with the credentials, never in config.")
        elif key not in by_name:
            if secret_looking(key):
                add(key, "This looks like a credential; credentials go in the credentials, never in config.")
            else:
                add(key, "Unknown setting for this provider.")
    for key in credentials:
        if len(errors) >= MAX_ERRORS_PER_PART:
            break
        if key not in secret_names:
            hint = " It is a setting: put it in config." if key in by_name else ""
            add(key, f"Unknown credential for this provider.{hint}")

    for config_field in fields:
        source = credentials if config_field.secret else config
        value = source.get(config_field.name)
        if value is None or value == "":
            if config_field.required:
                add(config_field.name, f"{config_field.label} is required.")
            continue
        if config_field.secret:
            problem = None if isinstance(value, str) and len(value) <= 4096 else f"{config_field.label} must be text of at most 4096 characters."
        else:
            problem = check_kind(config_field, value, price_model=price_model)
            nested = _nested_secret_key(value)
            if not problem and nested is not None:
                problem = f"{config_field.label} holds a key that looks like a credential ({nested[:40]})."
        if problem:
            add(config_field.name, problem)
    return errors


__all__ = [
    "COMMON_FIELDS",
    "KINDS",
    "ConfigField",
    "check_kind",
    "describe",
    "is_masked_hint",
    "secret_looking",
    "split_settings",
    "structure_problem",
    "validate_settings",
]
