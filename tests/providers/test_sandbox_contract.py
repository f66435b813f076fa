"""The sandbox providers pass the same core contract as the real adapters."""

import pytest

from providers import sandbox
from providers.sandbox import SandboxVoip, SandboxWhatsApp
from tests.providers.contract import RECIPIENT, ProviderContract

FAILURE_MODES = {
    "unavailable": "unavailable",
    "provider_refusal": "rejected_provider",
    "recipient_refusal": "rejected_recipient",
}


class SandboxContract(ProviderContract):
    secrets = {"api_key": "sk_sandbox_CONTRACT_0123456789"}
    required_fields = set()
    auth_error_code = "sandbox_auth"
    recipient_error_code = "sandbox_recipient"

    def valid_config(self):
        return {"sender": "+14155238886", "latency_ms": 0, "failure_rate": 0, "label": "contract"}

    @pytest.fixture
    def adapter(self):
        return self.provider_class(config=self.valid_config(), credentials=dict(self.secrets), webhook_secret="whsec-sbx-0123456789")

    def fail_next(self, adapter, kind):
        adapter.config.update(failure_rate=1, failure_mode=FAILURE_MODES[kind])

    def make_unhealthy(self, adapter):
        adapter.config["health"] = "down"

    def check_success(self, adapter, result):
        [record] = sandbox.outbox
        assert record["to"] == RECIPIENT and record["label"] == "contract"
        provider_id = getattr(result, "provider_message_id", None) or result.provider_call_id
        assert provider_id == record["provider_id"]


class TestSandboxWhatsAppContract(SandboxContract):
    provider_class = SandboxWhatsApp


class TestSandboxVoipContract(SandboxContract):
    provider_class = SandboxVoip
