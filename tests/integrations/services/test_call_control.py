"""call_continue hands a call event to the adapter: outages are retried, refusals are not,
and another organization's integration is never found."""

import pytest

from integrations.services.call_control import CallStepDeferred, call_continue
from providers import events
from providers.voip import telnyx_events
from tests.factories import make_integration
from tests.integrations.test_webhooks import TELNYX_PUBLIC
from tests.providers.loopback import LoopbackServer, Reply

SPEAK = "/v2/calls/v3:abc/actions/speak"


@pytest.fixture
def telnyx():
    with LoopbackServer() as server:
        yield server


def integration_on(organization, server):
    return make_integration(
        organization=organization, provider_name="telnyx",
        config={"connection_id": "1494404757140276705", "from_number": "+18005550101", "base_url": server.url,
                "public_key": TELNYX_PUBLIC,
                "connect_timeout": 1, "read_timeout": 1},
        credentials={"api_key": "KEY-telnyx-call-control"},
    )


def answered():
    state = telnyx_events.encode_state({"r": "", "i": 0, "s": [["speak", "Hi", 0, "", "", "", 1], ["hangup", "", 0, "", "", "", 1]]})
    return {"event_type": "call.answered", "occurred_at": "2026-11-22T10:00:05Z",
            "payload": {"call_control_id": "v3:abc", "client_state": state}}


def run(integration, organization):
    return call_continue(organization_id=organization.pk, integration_id=integration.pk, kind=events.CALL_STATUS,
                         provider_call_id="v3:abc", raw=answered())


def test_the_next_step_is_sent(organization, telnyx):
    telnyx.route("POST", SPEAK, Reply(json={"data": {"result": "ok"}}))
    assert run(integration_on(organization, telnyx), organization) is True
    assert telnyx.requests_to("POST", SPEAK)[0].json()["payload"] == "Hi"


def test_an_outage_is_deferred_for_a_retry(organization, telnyx):
    telnyx.route("POST", SPEAK, Reply(status=503, json={"errors": [{"code": "10007", "detail": "Unexpected error"}]}))
    with pytest.raises(CallStepDeferred) as caught:
        run(integration_on(organization, telnyx), organization)
    assert "KEY-telnyx-call-control" not in str(caught.value)


def test_a_refusal_is_not_retried(organization, telnyx):
    telnyx.route("POST", SPEAK, Reply(status=422, json={"errors": [{"code": "90018", "detail": "Call has already ended"}]}))
    assert run(integration_on(organization, telnyx), organization) is False


def test_another_organizations_integration_is_not_found(organization, other_organization, telnyx):
    integration = integration_on(organization, telnyx)
    assert call_continue(organization_id=other_organization.pk, integration_id=integration.pk, kind=events.CALL_STATUS,
                         provider_call_id="v3:abc", raw=answered()) is False
    assert telnyx.requests == []
