"""Fixtures of the API tests: two tenants, token clients, and the secret scan.

Every response any API test receives (through ``api_client`` or the schemathesis app wrapper)
is recorded; after each test the recorded bodies are scanned for every secret the database
holds (credentials, webhook secrets) and the fixtures' own secret values. One hit fails the test.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from integrations.models import (
    Call,
    Membership,
    Message,
    MessageTemplate,
    Organization,
    OrganizationIntegration,
)
from integrations.services.templates import template_create, template_map
from tests.factories import (
    SECRET_API_KEY,
    make_integration,
    make_membership,
    make_organization,
    make_user,
)

# Secret values used by the API tests; none may ever appear in a response body.
SECRET_ACCESS_TOKEN = "EAAG-secret-access-token-5550001111"
SECRET_NEW_KEY = "sk_live_ROTATED_secret_9876543210"
FIXTURE_SECRETS = (SECRET_API_KEY, SECRET_ACCESS_TOKEN, SECRET_NEW_KEY)

# Generous write rates so functional tests never meet the throttle; test_throttling lowers them.
GENEROUS_RATES = {"user_write": "100000/min", "org_write": "100000/min", "auth_token": "100000/min",
                  "message_send": "100000/min"}

_names = itertools.count(1)


@pytest.fixture
def recorded_responses() -> list[tuple[str, bytes]]:
    return []


class RecordingAPIClient(APIClient):
    """An APIClient that keeps (request line, body) of every response it receives."""

    def __init__(self, *args, log: list, **kwargs):
        super().__init__(*args, **kwargs)
        self._log = log

    def request(self, **kwargs):
        response = super().request(**kwargs)
        if response.streaming:
            body = b"".join(response.streaming_content)
            response.streaming_content = [body]
        else:
            body = response.content
        self._log.append((f"{kwargs.get('REQUEST_METHOD')} {kwargs.get('PATH_INFO')}", body))
        return response


def stored_secrets() -> set[str]:
    values = set(FIXTURE_SECRETS)
    for integration in OrganizationIntegration.objects.all():
        values.add(integration.webhook_secret)
        values.update(str(v) for v in (integration.credentials or {}).values())
    for organization in Organization.objects.exclude(notification_secret=""):
        values.add(organization.notification_secret)
    return {value for value in values if value and len(value) >= 8}


@pytest.fixture(autouse=True)
def _api_settings_and_secret_scan(db, settings, recorded_responses, tmp_path):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": dict(GENEROUS_RATES)}
    settings.MEDIA_ROOT = str(tmp_path / "media")  # inbound media kept by a test stay out of the tree
    yield
    secrets = stored_secrets()
    leaks = [
        (where, secret[:4] + "…")
        for where, body in recorded_responses
        for secret in secrets
        if secret.encode() in body or secret.encode("unicode_escape") in body
    ]
    assert not leaks, f"secret values appeared in API responses: {leaks}"


@pytest.fixture
def api_client(recorded_responses):
    """``api_client(user=None, org=None)``: a token-authenticated client, optionally with X-Org-Id."""

    def build(user=None, org: str | None = None) -> RecordingAPIClient:
        client = RecordingAPIClient(log=recorded_responses)
        headers = {}
        if user is not None:
            token, _ = Token.objects.get_or_create(user=user)
            headers["HTTP_AUTHORIZATION"] = f"Token {token.key}"
        if org is not None:
            headers["HTTP_X_ORG_ID"] = org
        client.credentials(**headers)
        return client

    return build


@dataclass
class Tenant:
    organization: Organization
    admin: object
    whatsapp_primary: OrganizationIntegration
    whatsapp_fallback: OrganizationIntegration
    voip_primary: OrganizationIntegration
    message: Message
    call: Call
    template: MessageTemplate | None = None
    users: dict = field(default_factory=dict)

    def user(self, role: str):
        """A user with only this role in only this organization."""
        if role not in self.users:
            user = make_user(username=f"{self.organization.slug}-{role}-{next(_names)}", staff=False)
            make_membership(user=user, organization=self.organization, role=role)
            self.users[role] = user
        return self.users[role]


def build_tenant(name: str) -> Tenant:
    organization = make_organization(name=name.title(), slug=name)
    admin = make_user(username=f"{name}-admin", staff=False)
    make_membership(user=admin, organization=organization, role=Membership.Role.ADMIN)
    primary = make_integration(organization=organization, display_name=f"{name} wa primary", actor=admin)
    fallback = make_integration(
        organization=organization,
        display_name=f"{name} wa fallback",
        credentials={"api_key": SECRET_ACCESS_TOKEN},
        actor=admin,
    )
    voip = make_integration(organization=organization, provider_name="sandbox_voip", display_name=f"{name} voip", actor=admin)
    message = Message.objects.create(
        organization=organization, channel="whatsapp", to="+14155550101", body=f"hello from {name}",
        integration=primary, provider_name=primary.provider_name, status=Message.Status.SENT,
    )
    call = Call.objects.create(
        organization=organization, to="+14155550102", integration=voip, provider_name=voip.provider_name,
    )
    template = template_create(organization=organization, actor=admin, name=f"{name}_update", language="en_US",
                               category="utility", body="Hello {{1}}")
    template_map(template=template, integration=primary, actor=admin)
    tenant = Tenant(organization, admin, primary, fallback, voip, message, call, template)
    tenant.users[Membership.Role.ADMIN] = admin
    return tenant


@pytest.fixture
def tenant_a(db) -> Tenant:
    return build_tenant("alpha")


@pytest.fixture
def tenant_b(db) -> Tenant:
    return build_tenant("bravo")
