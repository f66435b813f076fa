"""The one config validator (``Provider.validate_config``): what a tenant admin may store.

Every value here is one a tenant could send through the API, the admin or the wizard; each
must end in a ``ValidationError`` with per-field messages (or be accepted), never in another
exception and never in a value that breaks delivery, costs or health later.
"""

from __future__ import annotations

import base64
import json

import pytest
from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from providers.base import Provider
from providers.registry import get_registry
from providers.sandbox import SandboxVoip, SandboxWhatsApp
from providers.voip.telnyx import Telnyx
from providers.whatsapp.meta_cloud import MetaCloudWhatsApp
from providers.whatsapp.web_bridge import WhatsAppWebBridge

META_CONFIG = {"phone_number_id": "1234567890"}
META_SECRETS = {"access_token": "EAAG-token-0123456789", "app_secret": "app-secret-0123456789"}


def errors_of(provider_class: type[Provider], config, credentials=None) -> dict[str, list[str]]:
    try:
        provider_class.validate_config(config, credentials if credentials is not None else {})
    except ValidationError as exc:
        assert all(isinstance(m, str) for messages in exc.message_dict.values() for m in messages)
        return exc.message_dict
    return {}


def meta_errors(**config) -> dict[str, list[str]]:
    return errors_of(MetaCloudWhatsApp, {**META_CONFIG, **config}, META_SECRETS)


def test_a_complete_configuration_is_accepted():
    assert meta_errors(api_version="v21.0", read_timeout=8, connect_timeout="2.5", base_url="https://graph.facebook.com") == {}
    assert meta_errors(pricing={"unit_price": "0.01", "category_prices": {"marketing": "0.05"}}, delivery_receipts=False,
                       require_webhook_signature=True, business_hours_auto_reply="We are closed.") == {}


# ----- keys


def test_unknown_keys_are_refused_by_name():
    assert meta_errors(colour="blue") == {"colour": ["Unknown setting for this provider."]}


@pytest.mark.parametrize("key", ["access_token", "app_secret", "verify_token"])
def test_the_providers_own_secret_fields_are_refused_in_config(key):
    errors = meta_errors(**{key: "EAAG-leaked-value"})
    assert list(errors) == [key] and "credential" in errors[key][0]


@pytest.mark.parametrize("key", ["api_key", "apiKey", "password", "client_secret", "auth_token", "Authorization", "session_id", "x-api-key"])
def test_secret_looking_keys_are_refused_in_config(key):
    errors = errors_of(SandboxWhatsApp, {key: "sk_live_123"})
    assert list(errors) == [key] and "credential" in errors[key][0]


def test_secret_looking_keys_nested_in_a_value_are_refused():
    errors = meta_errors(pricing={"category_prices": {"api_key": "1"}})
    assert "pricing" in errors


def test_unknown_credentials_are_refused_and_settings_are_pointed_back_to_config():
    errors = errors_of(MetaCloudWhatsApp, META_CONFIG, {**META_SECRETS, "phone_number_id": "1", "other": "x"})
    assert "put it in config" in errors["phone_number_id"][0]
    assert errors["other"] == ["Unknown credential for this provider."]


@pytest.mark.parametrize("config", [[], "text", 5, None])
def test_config_that_is_not_an_object(config):
    assert "config" in errors_of(SandboxWhatsApp, config)


# ----- numbers


@pytest.mark.parametrize("value", [-1, 0, "0", "nan", "NaN", "inf", "-inf", 1e300, 1000000, 30.01, True, "abc", [1], {"a": 1}, "9" * 900])
def test_timeouts_outside_0_to_30_seconds_are_refused(value):
    assert set(meta_errors(read_timeout=value)) == {"read_timeout"}
    assert set(meta_errors(connect_timeout=value)) == {"connect_timeout"}


@pytest.mark.parametrize("value", [0.1, "8", 30, "30.0"])
def test_timeouts_inside_the_bounds_are_accepted(value):
    assert meta_errors(read_timeout=value) == {}


@pytest.mark.parametrize("value", [10**12, 10_001, -1, "5.5", 2.5, "1e5", float("nan"), float("inf")])
def test_sandbox_latency_is_a_whole_number_of_at_most_ten_seconds(value):
    assert "latency_ms" in errors_of(SandboxWhatsApp, {"latency_ms": value})


def test_sandbox_latency_at_the_bound_is_accepted():
    assert errors_of(SandboxVoip, {"latency_ms": 10_000, "failure_rate": "0.5"}) == {}
    assert "failure_rate" in errors_of(SandboxVoip, {"failure_rate": 2})


def test_the_sandbox_records_only_to_the_servers_own_redis(settings):
    assert "record_redis_url" in errors_of(SandboxWhatsApp, {"record_redis_url": "redis://10.0.0.9:6379/0"})
    assert errors_of(SandboxWhatsApp, {"record_redis_url": settings.REDIS_URL}) == {}


# ----- price overrides: checked by building the price model


@pytest.mark.parametrize(
    "pricing",
    [
        {"unit_price": "abc"},
        {"unit_price": "NaN"},
        {"unit_price": "Infinity"},
        {"unit_price": "-1"},
        {"unit_price": "1e999"},
        {"unit_price": "9" * 900},
        {"unit_price": True},
        {"monthly_fee": []},
        {"currency": "DOLLARS"},
        {"billing_increment_seconds": 0},
        {"billing_increment_seconds": "x"},
        {"minimum_billable_seconds": -5},
        {"category_prices": {"marketing": "abc"}},
        {"category_prices": {"Bad Name": "1"}},
        {"category_prices": ["marketing"]},
        {"tiers": [{"up_to": 10, "unit_price": "0.1"}, {"up_to": 5, "unit_price": "0.1"}]},
        {"tiers": [{"up_to": None, "unit_price": "0.1"}, {"up_to": 5, "unit_price": "0.1"}]},
        {"tiers": [{"unit_price": "abc"}]},
        {"tiers": [{"up_to": 10}]},
        {"tiers": "many"},
        {"tiers": [{"up_to": 10**13, "unit_price": "1"}]},
        {"surprise": "1"},
        "0.01",
    ],
)
def test_price_overrides_that_cannot_price_are_refused(pricing):
    assert set(meta_errors(pricing=pricing)) == {"pricing"}


def test_accepted_price_overrides_price_messages_and_calls():
    pricing = {"unit_price": "0.02", "monthly_fee": "10", "currency": "eur", "billing_increment_seconds": 6,
               "tiers": [{"up_to": 1000, "unit_price": "0.05"}, {"up_to": None, "unit_price": "0.03"}]}
    public_key = base64.b64encode(bytes(32)).decode()
    assert errors_of(Telnyx, {"connection_id": "abc", "from_number": "+14155550100", "public_key": public_key,
                              "pricing": pricing}, {"api_key": "KEY0123456789"}) == {}
    model = Telnyx.pricing.with_overrides({"pricing": pricing})
    assert model.call_cost(61) > 0 and model.monthly_cost(volume=1500) > 0


# ----- shapes and strings


def test_deep_nesting_is_refused_without_recursion():
    deep: dict = {}
    node = deep
    for _ in range(100_000):
        node["x"] = {}
        node = node["x"]
    assert "pricing" in errors_of(SandboxWhatsApp, {"pricing": deep})
    assert "pricing" in errors_of(SandboxWhatsApp, {"pricing": json.loads("[" * 900 + "]" * 900)})


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"label": "a\x00b"}, "label"),
        ({"label": "\ud800"}, "label"),
        ({"la\x00bel": "x"}, "config"),
        ({"label": "x" * 101}, "label"),
        ({"label": "x" * 70_000}, "label"),
        ({f"k{i}": i for i in range(600)}, "config"),
        ({"sender": "not a phone"}, "sender"),
        ({"failure_mode": "explode"}, "failure_mode"),
        ({"delivery_receipts": "maybe"}, "delivery_receipts"),
        ({"business_hours_auto_reply": "x" * 1001}, "business_hours_auto_reply"),
    ],
)
def test_strings_and_sizes_are_bounded(config, field):
    assert field in errors_of(SandboxWhatsApp, config)


def test_nul_and_surrogates_in_credentials_are_refused():
    assert "credentials" in errors_of(SandboxWhatsApp, {}, {"api_key": "a\x00b"})
    assert "credentials" in errors_of(SandboxWhatsApp, {}, {"api_key": "\udfff"})


# ----- URLs go through the egress policy


@pytest.mark.parametrize(
    "url",
    ["http://169.254.169.254/latest", "https://10.0.0.1", "https://[::1]/", "http://api.example.com",
     "https://user:pw@graph.facebook.com", "ftp://graph.facebook.com", "https://localhost:8000"],
)
def test_base_urls_the_egress_guard_would_refuse_are_refused_when_saved(url, settings):
    settings.PROVIDER_EGRESS_ALLOWLIST = ["bridge.internal"]
    assert "base_url" in meta_errors(base_url=url)
    assert "base_url" in errors_of(WhatsAppWebBridge, {"base_url": url}, {"api_key": "k"})


def test_a_loopback_base_url_is_accepted_only_because_the_test_settings_allowlist_it(settings):
    assert meta_errors(base_url="http://127.0.0.1:8080") == {}
    settings.PROVIDER_EGRESS_ALLOWLIST = []
    assert "base_url" in meta_errors(base_url="http://127.0.0.1:8080")


def test_a_url_someone_else_fetches_is_checked_for_shape_only():
    from providers.voip.twilio_voice import TwilioVoice

    config = {"account_sid": "AC" + "0" * 32, "from_number": "+14155550100"}
    secrets = {"auth_token": "token-0123456789"}
    assert errors_of(TwilioVoice, {**config, "default_twiml_url": "http://handler.example.com/twiml"}, secrets) == {}
    assert "default_twiml_url" in errors_of(TwilioVoice, {**config, "default_twiml_url": "javascript:alert(1)"}, secrets)


def test_fields_that_decide_where_credentials_go_are_marked():
    for provider_class in get_registry().all():
        names = provider_class.destination_field_names()
        has_base_url = any(f.name == "base_url" for f in provider_class.config_fields)
        assert ("base_url" in names) == has_base_url, provider_class.name


# ----- any input at all: a ValidationError or nothing


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
    | st.sampled_from(["nan", "inf", "-1", "0", "1e999", "\x00", "\ud800", "https://10.0.0.1"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
field_names = st.sampled_from(
    sorted({f.name for cls in (MetaCloudWhatsApp, SandboxWhatsApp, Telnyx, WhatsAppWebBridge) for f in cls.all_config_fields()})
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    provider=st.sampled_from([MetaCloudWhatsApp, SandboxWhatsApp, SandboxVoip, Telnyx, WhatsAppWebBridge]),
    config=st.dictionaries(field_names | st.text(max_size=10), json_values, max_size=6),
    credentials=st.dictionaries(st.text(max_size=12), json_values, max_size=3),
)
def test_any_json_config_ends_in_a_validation_error_or_nothing(provider, config, credentials):
    try:
        provider.validate_config(config, credentials)
    except ValidationError as exc:
        assert exc.message_dict
