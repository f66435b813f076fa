"""Finding 2: a message the provider accepted is never sent again because of our own bug.

The report: ``config.pricing = {"unit_price": "abc"}`` was accepted; after the provider accepted
a message, computing its cost raised, the row stayed ``sending`` and every sweep sent it again
(4 provider POSTs after 3 sweeps). Here every step after the provider call is made to raise in
turn, then the row goes through three more lease expiries and deliveries (what the sweeper
does): the provider saw exactly one send each time, and the row is ``sent`` with its provider id.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from integrations.models import Message, OrganizationIntegration
from integrations.services import metrics
from integrations.services.delivery import batch, breaker, dispatch, records
from providers import sandbox
from providers.pricing import PriceModel
from providers.values import SendResult
from tests.factories import make_integration

TO = "+5491155550000"
SWEEPS = 3


def _expire_and_redeliver(message: Message) -> None:
    """What the sweeper and a worker do to a row whose lease ran out, three times over."""
    for _ in range(SWEEPS):
        Message.objects.filter(pk=message.pk, status__in=["sending", "queued"]).update(
            lease_expires_at=timezone.now() - timedelta(seconds=1)
        )
        try:
            dispatch.deliver_message(message_id=message.pk)
        except dispatch.DeliveryDeferred:
            pass


def _broken(*args, **kwargs):
    raise RuntimeError("injected fault")


def _nul_attempt(original):
    """An attempt entry PostgreSQL's jsonb refuses (a NUL character): the details write fails."""

    def entry(*args, **kwargs):
        value = original(*args, **kwargs)
        value["error"] = "provider said \x00"
        return value

    return entry


def _odd_result(original):
    """The provider's answer at its oddest: an id with NUL, a cost no column holds, a negative
    latency, a currency that is not one."""

    def send(self, message):
        result = original(self, message)
        return SendResult(provider_message_id=result.provider_message_id + "\x00" + "x" * 400,
                          cost="1e30", currency="\ud800dollars", latency_ms=-(10**20))

    return send


FAULTS = {
    "attempt_entry": lambda mp: mp.setattr(dispatch, "attempt_entry",
                                           lambda i, outcome, **kw: _broken() if outcome == "sent" else records.attempt_entry(i, outcome, **kw)),
    "details_refused_by_database": lambda mp: mp.setattr(dispatch, "attempt_entry", _nul_attempt(records.attempt_entry)),
    "cost": lambda mp: mp.setattr(PriceModel, "with_overrides", _broken),
    "metrics": lambda mp: mp.setattr(metrics, "delivery_recorded", _broken),
    "breaker": lambda mp: mp.setattr(breaker, "record_success", _broken),
    "odd_provider_answer": lambda mp: mp.setattr(sandbox.SandboxWhatsApp, "send_message",
                                                 _odd_result(sandbox.SandboxWhatsApp.send_message)),
    # The database refuses the outcome itself (an outage right after the provider call): the
    # row stays in doubt and the next claim asks the provider instead of sending again.
    "outcome_write": lambda mp: (mp.setattr(dispatch, "record_sent", _broken), mp.setattr(batch, "record_sent_many", _broken)),
}


def _deliver_single(message: Message) -> None:
    dispatch.deliver_message(message_id=message.pk)


def _deliver_in_a_batch(message: Message) -> None:
    batch.deliver_message_batch(message_ids=[message.pk])


PATHS = {"single": _deliver_single, "batch": _deliver_in_a_batch}


@pytest.mark.django_db
@pytest.mark.parametrize("fault", sorted(FAULTS))
@pytest.mark.parametrize("path", sorted(PATHS))
def test_a_fault_after_the_provider_accepted_never_sends_again(organization, settings, monkeypatch, fault, path):
    settings.DELIVERY_MAX_RETRIES = 5
    make_integration(organization=organization, display_name="Primary", config={"label": "p"})
    make_integration(organization=organization, display_name="Fallback", config={"label": "f"})
    message = Message.objects.create(organization=organization, channel="whatsapp", to=TO, body="hi")

    with monkeypatch.context() as patched:
        FAULTS[fault](patched)
        try:
            PATHS[path](message)
        except RuntimeError:
            assert fault == "outcome_write"  # only a failed outcome write may escape
    _expire_and_redeliver(message)

    message.refresh_from_db()
    assert len(sandbox.outbox) == 1, [r["label"] for r in sandbox.outbox]
    assert sandbox.outbox[0]["label"] == "p"
    assert message.status == Message.Status.SENT
    assert message.provider_message_id.startswith("sbx-") and "\x00" not in message.provider_message_id


@pytest.mark.django_db
def test_overrides_stored_before_validation_send_once_and_say_unpriced(organization, settings):
    """The reported reproduction: unit_price "abc" kept in the database (written before the
    validator existed), three sweeps. One send; no cost, and ``cost_source`` says why."""
    integration = make_integration(organization=organization, config={"label": "p"})
    OrganizationIntegration.objects.filter(pk=integration.pk).update(config={"label": "p", "pricing": {"unit_price": "abc"}})
    message = Message.objects.create(organization=organization, channel="whatsapp", to=TO, body="hi")

    outcome = dispatch.deliver_message(message_id=message.pk)
    _expire_and_redeliver(message)

    message.refresh_from_db()
    assert outcome.status == dispatch.DELIVERED
    assert len(sandbox.outbox) == 1
    assert (message.status, message.cost, message.cost_source) == (Message.Status.SENT, None, records.COST_UNPRICED)


@pytest.mark.django_db
def test_unusable_overrides_never_fail_the_dashboard_cost_pages_or_analytics(organization, other_organization):
    """The same stored overrides made the dashboard, the cost page and the analytics API answer
    500, for the superuser across every organization too."""
    from django.test import Client
    from rest_framework.test import APIClient

    from integrations.models import Membership
    from tests.factories import make_membership, make_user

    broken = make_integration(organization=organization, display_name="Broken prices", config={"label": "b"})
    make_integration(organization=other_organization, display_name="Healthy", config={"label": "h"})
    OrganizationIntegration.objects.filter(pk=broken.pk).update(
        config={"label": "b", "pricing": {"unit_price": "abc", "tiers": [{"up_to": "x", "unit_price": None}]}}
    )
    message = Message.objects.create(organization=organization, channel="whatsapp", to=TO, body="hi")
    dispatch.deliver_message(message_id=message.pk)

    admin = make_user(staff=True)
    make_membership(user=admin, organization=organization, role=Membership.Role.ADMIN)
    superuser = make_user(staff=True)
    superuser.is_superuser = True
    superuser.save(update_fields=["is_superuser"])
    for user in (admin, superuser):
        client = Client()
        client.force_login(user)
        for page in ("/admin/providers/", "/admin/providers/costs/", f"/admin/providers/integration/{broken.pk}/"):
            assert client.get(page).status_code == 200, (user, page)
        api = APIClient()
        api.force_authenticate(user)
        response = api.get("/api/v1/analytics/costs/?channel=whatsapp", HTTP_X_ORG_ID=str(organization.pk))
        assert response.status_code == 200, response.content[:300]
