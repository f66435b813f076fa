"""Hanging up a call: through the provider's hang-up operation (the sandbox here; the adapters'
own requests are tested in tests/providers/voip), cancelled locally while still queued, refused
when it cannot be done; from the API and the admin."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token

from audit.models import AuditEvent
from integrations.errors import OperationRefused
from integrations.models import Call, Membership
from integrations.services.call_control import call_hangup
from integrations.services.delivery import dispatch, intake
from providers import sandbox
from tests.factories import make_integration, make_membership, make_user

pytestmark = pytest.mark.django_db
TO = "+14155550123"


def placed_call(organization):
    make_integration(organization=organization, provider_name="sandbox_voip")
    call, _ = intake.place_call(organization=organization, to=TO, actor="system:test")
    dispatch.deliver_call(call_id=call.pk)
    call.refresh_from_db()
    assert call.status == Call.Status.INITIATED and call.provider_call_id
    return call


def test_a_call_in_progress_is_hung_up_through_its_provider(organization):
    call = placed_call(organization)

    ended = call_hangup(call=call, actor="system:test")

    assert ended.status == Call.Status.COMPLETED and ended.ended_at is not None
    assert [r["kind"] for r in sandbox.outbox if r.get("kind") == "hangup"] == ["hangup"]
    assert AuditEvent.objects.get(action="call.hangup").after["status"] == "completed"
    with pytest.raises(OperationRefused) as again:
        call_hangup(call=ended, actor="system:test")
    assert again.value.code == "call_ended"


def test_a_queued_call_is_cancelled_without_a_provider_call(organization):
    call, _ = intake.place_call(organization=organization, to=TO, actor="system:test")
    cancelled = call_hangup(call=call, actor="system:test")
    assert (cancelled.status, cancelled.error_code) == (Call.Status.FAILED, "cancelled")
    assert dispatch.deliver_call(call_id=call.pk).status == dispatch.NOT_CLAIMED  # the worker leaves it alone
    assert sandbox.outbox == []


def test_a_call_being_dialed_is_refused(organization):
    call = Call.objects.create(organization=organization, to=TO, status=Call.Status.DIALING)
    with pytest.raises(OperationRefused) as refused:
        call_hangup(call=call, actor="system:test")
    assert refused.value.code == "call_dialing"


def test_a_webhook_that_ended_the_call_first_is_not_overwritten(organization):
    call = placed_call(organization)
    Call.objects.filter(pk=call.pk).update(status=Call.Status.BUSY)
    call.refresh_from_db()
    with pytest.raises(OperationRefused):
        call_hangup(call=call, actor="system:test")
    assert Call.objects.get(pk=call.pk).status == Call.Status.BUSY


def test_the_api_hangs_up_and_answers_409_the_second_time(client, organization, other_organization):
    call = placed_call(organization)
    user = make_user(username="caller", staff=False)
    make_membership(user=user, organization=organization, role=Membership.Role.ADMIN)
    headers = {"HTTP_AUTHORIZATION": f"Token {Token.objects.get_or_create(user=user)[0].key}"}

    first = client.post(f"/api/v1/calls/{call.pk}/hangup/", **headers)
    assert first.status_code == 200 and first.json()["status"] == "completed"
    second = client.post(f"/api/v1/calls/{call.pk}/hangup/", **headers)
    assert second.status_code == 409 and second.json()["code"] == "call_ended"
    theirs = Call.objects.create(organization=other_organization, to=TO)
    assert client.post(f"/api/v1/calls/{theirs.pk}/hangup/", **headers).status_code == 404


def test_the_admin_action_hangs_up_only_the_users_organizations_calls(client, organization, other_organization):
    call = placed_call(organization)
    theirs = Call.objects.create(organization=other_organization, to=TO)
    staff = make_user(username="desk")
    make_membership(user=staff, organization=organization, role=Membership.Role.ADMIN)
    client.force_login(staff)
    changelist = reverse("admin:integrations_call_changelist")
    assert client.get(changelist).status_code == 200
    response = client.post(changelist, {"action": "hang_up", "_selected_action": [str(call.pk), str(theirs.pk)]}, follow=True)
    assert "Calls hung up: 1." in response.content.decode()
    assert Call.objects.get(pk=call.pk).status == Call.Status.COMPLETED
    assert Call.objects.get(pk=theirs.pk).status == Call.Status.QUEUED


def test_a_call_whose_integration_was_deleted_is_refused_with_its_own_code(organization):
    call = placed_call(organization)
    from integrations.models import OrganizationIntegration

    OrganizationIntegration.objects.filter(pk=call.integration_id).delete()
    call.refresh_from_db()
    with pytest.raises(OperationRefused) as refused:
        call_hangup(call=call, actor="system:test")
    assert refused.value.code == "integration_deleted"
