import logging
import sys
import textwrap

import pytest

from providers.base import WhatsAppProvider
from providers.errors import ProviderRejected, ProviderUnavailable
from providers.pricing import PriceModel
from providers.registry import (
    ProviderRegistrationError,
    ProviderRegistry,
    UnknownProvider,
    get_registry,
)
from providers.sandbox import SandboxVoip, SandboxWhatsApp, outbox
from providers.values import HealthStatus, OutboundMessage


class Incomplete(WhatsAppProvider):
    name = "incomplete"
    display_name = "Incomplete"
    pricing = PriceModel()

    def check_health(self):
        raise AssertionError("never called")

    def parse_webhook(self, request):
        return []

    # no verify_webhook, no deliver_message


def test_class_missing_an_operation_is_refused_naming_it():
    registry = ProviderRegistry()
    with pytest.raises(ProviderRegistrationError) as excinfo:
        registry.register(Incomplete)
    message = str(excinfo.value)
    assert "verify_webhook()" in message and "deliver_message()" in message
    assert "incomplete" not in registry


def test_a_declared_feature_needs_its_step():
    from providers.base import VoipProvider

    class ClaimsHangup(VoipProvider):
        name = "claims_hangup"
        display_name = "Claims hang-up"
        pricing = PriceModel()
        features = frozenset({"hangup", "call_lookup"})

        def check_health(self):
            raise AssertionError("never called")

        parse_webhook = verify_webhook = dial = check_health

    with pytest.raises(ProviderRegistrationError) as excinfo:
        ProviderRegistry().register(ClaimsHangup)
    assert "end_call()" in str(excinfo.value) and "lookup_call()" in str(excinfo.value)


def test_class_missing_attributes_is_refused():
    class Nameless(SandboxWhatsApp):
        name = ""

    with pytest.raises(ProviderRegistrationError, match="missing class attribute 'name'"):
        ProviderRegistry().register(Nameless)


def test_register_get_unregister_all_choices():
    registry = ProviderRegistry()
    registry.register(SandboxWhatsApp)
    registry.register(SandboxVoip)
    assert registry.get("sandbox_whatsapp") is SandboxWhatsApp
    assert registry.all("voip") == [SandboxVoip]
    assert registry.choices("whatsapp") == [("sandbox_whatsapp", "Sandbox WhatsApp")]
    with pytest.raises(ProviderRegistrationError, match="already registered"):

        class Impostor(SandboxWhatsApp):
            pass

        registry.register(Impostor)
    registry.unregister("sandbox_whatsapp")
    with pytest.raises(UnknownProvider):
        registry.get("sandbox_whatsapp")


def test_builtins_come_from_settings(settings):
    registry = get_registry()
    for path in settings.SWITCHBOARD_PROVIDERS:
        name = path.rsplit(".", 1)[1]
        assert any(cls.__name__ == name for cls in registry.all())


@pytest.fixture
def plugin_distribution(tmp_path, monkeypatch):
    """A real installed distribution (dist-info on sys.path) declaring two plugins: one good,
    one that fails to import."""
    package = tmp_path / "acme_plugin"
    package.mkdir()
    (package / "__init__.py").write_text(
        textwrap.dedent(
            """
            from providers.sandbox import SandboxWhatsApp

            class AcmeWhatsApp(SandboxWhatsApp):
                name = "acme_whatsapp"
                display_name = "Acme WhatsApp"
                simulated = False

            class AcmeSimulator(SandboxWhatsApp):
                name = "acme_simulator"
                display_name = "Acme simulator"
            """
        )
    )
    dist = tmp_path / "acme_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[switchboard.providers]\n"
        "acme_whatsapp = acme_plugin:AcmeWhatsApp\n"
        "acme_simulator = acme_plugin:AcmeSimulator\n"
        "broken = acme_plugin_missing_module:Nothing\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    sys.modules.pop("acme_plugin", None)


def test_entry_point_plugins_load_and_broken_ones_are_skipped(plugin_distribution, caplog):
    registry = ProviderRegistry()
    with caplog.at_level(logging.ERROR, logger="providers.registry"):
        registry.load(["providers.sandbox.SandboxWhatsApp"], allow_simulated=True)
    assert registry.get("acme_whatsapp").display_name == "Acme WhatsApp"
    assert registry.get("acme_simulator").display_name == "Acme simulator"
    assert registry.get("sandbox_whatsapp") is SandboxWhatsApp
    assert any("Skipping provider plugin 'broken'" in r.getMessage() for r in caplog.records)


def test_simulated_providers_are_not_registered_unless_enabled(plugin_distribution):
    registry = ProviderRegistry()
    registry.load(["providers.sandbox.SandboxWhatsApp", "providers.voip.telnyx.Telnyx"])
    assert "sandbox_whatsapp" not in registry and "acme_simulator" not in registry
    assert "telnyx" in registry and "acme_whatsapp" in registry


@pytest.mark.parametrize(("debug", "sandbox", "expected"), [(False, False, False), (False, True, True), (True, False, True)])
def test_the_sandbox_exists_only_with_debug_or_switchboard_sandbox(debug, sandbox, expected):
    """The settings module itself, loaded in a fresh interpreter with only these variables."""
    import os
    import subprocess

    env = {key: value for key, value in os.environ.items() if key not in ("DEBUG", "SWITCHBOARD_SANDBOX")}
    env.update(DEBUG=str(debug).lower(), SWITCHBOARD_SANDBOX=str(sandbox).lower(), SECRET_KEY="x")
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "from providers.registry import get_registry; "
        "print(settings.SWITCHBOARD_SANDBOX, 'sandbox_whatsapp' in get_registry(), 'meta_cloud' in get_registry())"
    )
    out = subprocess.run([sys.executable, "-c", code], env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"},
                         capture_output=True, text=True, timeout=60, check=True).stdout.split()
    assert out == [str(expected), str(expected), "True"]


def test_sandbox_sends_and_records():
    provider = SandboxWhatsApp(config={"label": "a"}, credentials={"api_key": "k"})
    result = provider.send_message(OutboundMessage(to="+14155550100", body="hello"))
    assert result.provider_message_id.startswith("sbx-")
    assert outbox[-1]["body"] == "hello" and outbox[-1]["label"] == "a"
    assert provider.test_connection().status == HealthStatus.HEALTHY


def test_sandbox_fails_as_configured():
    down = SandboxWhatsApp(config={"failure_rate": 1})
    with pytest.raises(ProviderUnavailable, match="simulated outage"):
        down.send_message(OutboundMessage(to="+14155550100", body="x"))
    refused = SandboxWhatsApp(config={"failure_rate": 1, "failure_mode": "rejected_provider"})
    with pytest.raises(ProviderRejected) as excinfo:
        refused.send_message(OutboundMessage(to="+14155550100", body="x"))
    assert excinfo.value.fail_over is True
    recipient = SandboxVoip(config={"failure_rate": 1, "failure_mode": "rejected_recipient"})
    from providers.values import OutboundCall

    with pytest.raises(ProviderRejected) as excinfo:
        recipient.place_call(OutboundCall(to="+14155550100"))
    assert excinfo.value.fail_over is False
    assert outbox == []
    assert SandboxWhatsApp(config={"health": "down"}).test_connection().status == HealthStatus.DOWN


def test_sandbox_latency_is_applied():
    result = SandboxWhatsApp(config={"latency_ms": 30}).send_message(OutboundMessage(to="+14155550100", body="x"))
    assert result.latency_ms >= 30


def test_errors_never_carry_credentials():
    class Leaky(SandboxWhatsApp):
        name = "leaky"

        def deliver_message(self, message):
            raise ProviderUnavailable(f"upstream said: bad key {self.credentials['api_key']}")

    with pytest.raises(ProviderUnavailable) as excinfo:
        Leaky(credentials={"api_key": "sk_live_abcdefgh1234"}).send_message(OutboundMessage(to="+1", body="x"))
    assert "sk_live_abcdefgh1234" not in str(excinfo.value)
    assert "••••" in str(excinfo.value)
