"""Findings 4 and 6: an organization's settings aimed at another tenant or at the inside.

4. ``X-Org-Id`` matched a slug *or* an id; an admin could set their organization's slug to
   another organization's UUID, after which a user of both was routed into the wrong one.
6. ``notification_url`` was a blind SSRF: any internal address, its HTTP status then shown in
   the audit trail.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from audit.models import AuditEvent
from integrations.api import permissions
from integrations.models import Membership, Organization, OrganizationIntegration
from integrations.services import notifications
from integrations.services.organizations import organization_save
from tests.factories import make_membership, make_organization
from tests.providers.loopback import LoopbackServer, Reply
from tests.security.conftest import build_tenant


def _admin_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("shape", [str, lambda value: value.hex, lambda value: str(value).upper()], ids=["dashed", "hex", "upper"])
def test_a_slug_cannot_spell_another_organizations_id(tenant, shape):
    victim = make_organization(name="Victim", slug="victim")
    organization = tenant.organization
    page = f"/admin/integrations/organization/{organization.pk}/change/"
    form = {"name": organization.name, "slug": shape(victim.pk), "notification_url": "",
            "memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0"}

    response = _admin_client(tenant.admin).post(page, form)

    assert response.status_code == 200 and "cannot have the shape of an id" in response.content.decode()
    organization.refresh_from_db()
    assert organization.slug == "mallory"
    organization.slug = shape(victim.pk)
    with pytest.raises(ValidationError):
        organization_save(organization=organization, actor=tenant.admin, changed_fields=["slug"])


@pytest.mark.django_db
def test_a_uuid_shaped_header_names_an_id_even_against_a_slug_stored_before_the_rule(tenant):
    """A slug written before the rule (here straight into the database) spelling the victim's
    id: a user of both organizations who names the victim by id lands in the victim."""
    victim = build_tenant("victim")
    Organization.objects.filter(pk=tenant.organization.pk).update(slug=str(victim.organization.pk))
    both = tenant.admin  # a member of the attacker's organization first, then of the victim's
    make_membership(user=both, organization=victim.organization, role=Membership.Role.ADMIN)
    api = tenant.api()
    api.credentials(HTTP_AUTHORIZATION=f"Token {tenant.token}", HTTP_X_ORG_ID=str(victim.organization.pk))

    response = api.post("/api/v1/integrations/", {"provider_name": "sandbox_whatsapp", "display_name": "Mine",
                                                  "config": {"label": "x"}}, format="json")

    assert response.status_code == 201, response.content
    assert OrganizationIntegration.objects.get(pk=response.json()["id"]).organization_id == victim.organization.pk
    # Whatever order the memberships come in: the attacker's organization never answers to the id.
    attacker = Organization.objects.get(pk=tenant.organization.pk)
    assert not permissions._matches(attacker, str(victim.organization.pk))
    assert not permissions._matches(attacker, victim.organization.pk.hex)


@pytest.fixture
def internal_receiver():
    """A server on an internal address the egress allowlist does not name."""
    server = LoopbackServer(host="127.0.0.2").start()
    server.route("POST", "/hook", Reply(status=418, json={}))
    yield server
    server.stop()


@pytest.mark.django_db
def test_notification_url_to_an_internal_address_is_refused_and_never_called(tenant, internal_receiver):
    organization = tenant.organization
    url = f"{internal_receiver.url}/hook"
    page = f"/admin/integrations/organization/{organization.pk}/change/"
    form = {"name": organization.name, "slug": organization.slug, "notification_url": url,
            "memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0"}

    response = _admin_client(tenant.admin).post(page, form)

    assert response.status_code == 200 and "notification URL" in response.content.decode()
    # Stored before the rule: delivery refuses it too, sends nothing and shows no status.
    Organization.objects.filter(pk=organization.pk).update(notification_url=url, notification_secret="whsec-0123456789")
    status = notifications.deliver_notification_webhook(
        organization_id=str(organization.pk), payload={"id": "n1", "event": "provider.down"}, final_attempt=False
    )
    assert status == 0 and internal_receiver.requests == []
    event = AuditEvent.objects.for_org(organization).get(action="notification.webhook")
    assert event.outcome == "failure" and "418" not in event.reason and "not allowed" in event.reason
