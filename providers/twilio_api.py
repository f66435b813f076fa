"""What Twilio WhatsApp and Twilio Voice share: account config, auth, errors, webhook signatures.

Signature scheme (``X-Twilio-Signature``): the full URL Twilio called, then for each POST
parameter name in sorted order the name followed by each of its values in sorted order;
HMAC-SHA1 keyed with the auth token; base64. The URL is tried as given, with the default port
added and with it removed, because Twilio may sign either form. JSON bodies are signed over the
URL alone, which carries ``bodySHA256`` = SHA-256 hex of the raw body.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import requests

from providers import events
from providers.config import ConfigField
from providers.errors import (
    ProviderError,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
    WebhookSignatureError,
)
from providers.http import (
    HTTP_CONFIG_FIELDS,
    base_url_field,
    error_body,
    retry_after_seconds,
    transient_status,
)
from providers.values import HealthStatus, ProviderHealth, WebhookRequest

DEFAULT_BASE_URL = "https://api.twilio.com"
API_VERSION = "2010-04-01"
SIGNATURE_HEADER = "X-Twilio-Signature"

# Refusals tied to this account or sender: another provider may succeed.
PROVIDER_TIED_CODES = frozenset({
    "20003",  # authentication failed
    "20005",  # account not active
    "20008",  # test credentials
    "20404",  # the account or resource does not exist
    "21606",  # the From number is not a valid sender for this account
    "21608",  # trial account: unverified number
    "21212",  # invalid From number
    "63007",  # no WhatsApp sender for the From number
})
# 63018: rate limit of the WhatsApp sender.
RATE_LIMIT_CODES = frozenset({"20429", "14107", "63018"})
# Twilio error code → our normalized code. 63016: free-form message outside the 24-hour
# window (send a template, i.e. a Content SID, instead); usually reported by status callback.
NORMALIZED_ERRORS = {"63016": events.ERROR_OUTSIDE_WINDOW}

ACCOUNT_FIELDS = (
    ConfigField("account_sid", "Account SID", help_text="Starts with AC, from the Twilio console."),
    ConfigField("auth_token", "Auth token", secret=True, help_text="Authenticates API calls and signs webhooks."),
)


def http_fields() -> tuple[ConfigField, ...]:
    return (base_url_field(DEFAULT_BASE_URL), *HTTP_CONFIG_FIELDS)


def clean_account(config: Mapping[str, Any]) -> dict[str, str]:
    sid = config.get("account_sid")
    if sid not in (None, "") and not re.fullmatch(r"AC[0-9a-fA-F]{32}", str(sid)):
        return {"account_sid": "An Account SID is AC followed by 32 hexadecimal characters."}
    return {}


class TwilioAccountMixin:
    """HTTP steps of a Twilio REST adapter (mix in before HttpAdapterMixin)."""

    default_base_url = DEFAULT_BASE_URL
    credentials: dict[str, Any]
    setting: Any
    secret: Any
    request_json: Any

    def account_path(self, suffix: str = "") -> str:
        return f"/{API_VERSION}/Accounts/{self.setting('account_sid')}{suffix}"

    def auth_kwargs(self) -> dict[str, Any]:
        return {"auth": (str(self.setting("account_sid")), self.secret("auth_token"))}

    def create_resource(self, suffix: str, form: Any, *, noun: str) -> tuple[dict[str, Any], Decimal | None, str | None]:
        """POST a Message or Call; returns (answer, cost, currency). Twilio states a price only
        once it is known, so cost and currency are None until then."""
        data = self.request_json("POST", self.account_path(suffix), data=form)
        if not data.get("sid"):
            raise ProviderUnavailable(f"Twilio accepted the request but returned no {noun} sid.", code="malformed_response")
        known = data.get("price") not in (None, "")
        return data, price(data.get("price")) if known else None, data.get("price_unit") if known else None

    def classify_error(self, response: requests.Response) -> ProviderError:
        body = error_body(response)
        code = str(body.get("code") or "") or None
        message = str(body.get("message") or f"HTTP {response.status_code}")
        status = response.status_code
        if status == 429 or code in RATE_LIMIT_CODES:
            return ProviderRateLimited(f"Twilio: {message}", code=code or status, status=status,
                                       retry_after=retry_after_seconds(response))
        if transient_status(status):
            return ProviderUnavailable(f"Twilio: {message}", code=code or status, status=status)
        if code in NORMALIZED_ERRORS:
            return ProviderRejected(f"Twilio refused [{code}]: {message}", code=NORMALIZED_ERRORS[code], status=status, fail_over=True)
        fail_over = status in (401, 403) or code in PROVIDER_TIED_CODES
        return ProviderRejected(f"Twilio refused: {message}", code=code or status, status=status, fail_over=fail_over)

    def check_health(self) -> ProviderHealth:
        data = self.request_json("GET", self.account_path(".json"))
        account_status = str(data.get("status", "")).lower()
        status = HealthStatus.HEALTHY if account_status == "active" else HealthStatus.DOWN
        return ProviderHealth(status=status, detail=f"Twilio account is {account_status or 'in an unknown state'}.")

    def verify_webhook(self, request: WebhookRequest) -> None:
        token = self.credentials.get("auth_token")
        if not token:
            raise WebhookSignatureError("Twilio webhook cannot be verified: the auth token is not configured.")
        signature = request.header(SIGNATURE_HEADER)
        if not signature:
            raise WebhookSignatureError(f"Twilio webhook without {SIGNATURE_HEADER}.")
        if not validate_signature(
            url=request.url, params=_signed_params(request), signature=signature, auth_token=str(token), body=request.body
        ):
            raise WebhookSignatureError("Twilio webhook signature does not match.")


def _signed_params(request: WebhookRequest) -> Mapping[str, list[str]]:
    content_type = request.header("Content-Type").split(";", 1)[0].strip().lower()
    if content_type == "application/x-www-form-urlencoded":
        return request.form or parse_qs(request.body.decode("utf-8", "replace"), keep_blank_values=True)
    return {}


def compute_signature(url: str, params: Mapping[str, Iterable[str] | str], auth_token: str) -> str:
    payload = url
    for name in sorted(params):
        values = params[name]
        if isinstance(values, str):
            values = [values]
        # Identical repeated values count once, as in Twilio's own RequestValidator.
        for value in sorted(set(values)):
            payload += f"{name}{value}"
    digest = hmac.new(auth_token.encode(), payload.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def url_variants(url: str) -> list[str]:
    """The URL as given, with the default port and without it."""
    parts = urlsplit(url)
    default_port = {"https": 443, "http": 80}.get(parts.scheme)
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    userinfo = parts.netloc.rpartition("@")[0]
    prefix = f"{userinfo}@" if userinfo else ""
    variants = [url]
    if default_port is not None:
        for netloc in (f"{prefix}{host}", f"{prefix}{host}:{default_port}"):
            if parts.port in (None, default_port):
                candidate = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
                if candidate not in variants:
                    variants.append(candidate)
    return variants


def validate_signature(
    *, url: str, params: Mapping[str, Iterable[str] | str], signature: str, auth_token: str, body: bytes = b""
) -> bool:
    query = parse_qs(urlsplit(url).query)
    if "bodySHA256" in query:
        expected_hash = hashlib.sha256(body).hexdigest()
        if not hmac.compare_digest(query["bodySHA256"][0].encode(), expected_hash.encode()):
            return False
        params = {}
    matched = False
    for candidate in url_variants(url):
        # Every variant is compared, so timing does not reveal which form matched.
        if hmac.compare_digest(compute_signature(candidate, params, auth_token).encode(), signature.encode()):
            matched = True
    return matched


def normalized_error(code: str, message: str) -> tuple[str, str]:
    """(error_code, error_message) for a status callback: ours when we normalize it."""
    if code in NORMALIZED_ERRORS:
        return NORMALIZED_ERRORS[code], f"[{code}] {message}".strip()
    return code, message


def price(value: Any) -> Decimal | None:
    """Twilio states prices as negative decimal strings (a charge); we store the amount."""
    if value in (None, ""):
        return None
    try:
        return abs(Decimal(str(value)))
    except InvalidOperation:
        return None


def strip_channel(address: Any) -> str:
    text = str(address or "")
    return text.split(":", 1)[1] if text.startswith(("whatsapp:", "sip:", "client:")) else text


def first(form: Mapping[str, list[str]], name: str) -> str:
    values = form.get(name) or [""]
    return str(values[0])


__all__ = [
    "ACCOUNT_FIELDS",
    "SIGNATURE_HEADER",
    "TwilioAccountMixin",
    "clean_account",
    "compute_signature",
    "http_fields",
    "normalized_error",
    "price",
    "url_variants",
    "validate_signature",
]
