"""A tenant with an org admin and a token client, and throttles generous enough for a suite
that sends many requests (the throttle findings set their own rates)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from integrations.models import Membership, Organization
from tests.factories import make_membership, make_organization, make_user

GENEROUS_RATES = {"user_write": "100000/min", "org_write": "100000/min", "auth_token": "100000/min",
                  "message_send": "100000/min"}


@dataclass
class Tenant:
    organization: Organization
    admin: object
    token: str

    def api(self) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {self.token}", HTTP_X_ORG_ID=str(self.organization.pk))
        return client


@pytest.fixture
def generous_throttles(settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        **settings.REST_FRAMEWORK.get("DEFAULT_THROTTLE_RATES", {}), **GENEROUS_RATES}}


def build_tenant(slug: str) -> Tenant:
    organization = make_organization(name=slug.title(), slug=slug)
    admin = make_user(username=f"{slug}-admin", staff=True)
    make_membership(user=admin, organization=organization, role=Membership.Role.ADMIN)
    token, _ = Token.objects.get_or_create(user=admin)
    return Tenant(organization, admin, token.key)


@pytest.fixture
def tenant(db, generous_throttles) -> Tenant:
    return build_tenant("mallory")
