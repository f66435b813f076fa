"""Factories for test data. Integrations are built through the services, as production does."""

from __future__ import annotations

import itertools

from django.contrib.auth import get_user_model

from integrations.models import Membership, Organization, OrganizationIntegration
from integrations.services.integrations import integration_create

_counter = itertools.count(1)

# Credential values tests scan responses, pages and logs for: none may ever appear.
SECRET_API_KEY = "sk_test_SUPERSECRET_0123456789"


def make_user(*, username: str | None = None, staff: bool = True, superuser: bool = False, password: str = "pw-Test-12345"):
    username = username or f"user{next(_counter)}"
    user = get_user_model().objects.create_user(
        username=username, password=password, is_staff=staff or superuser, is_superuser=superuser,
        email=f"{username}@example.com",
    )
    return user


def make_organization(*, name: str | None = None, slug: str | None = None, **fields) -> Organization:
    n = next(_counter)
    return Organization.objects.create(name=name or f"Org {n}", slug=slug or f"org-{n}", **fields)


def make_membership(*, user, organization, role: str = Membership.Role.ADMIN) -> Membership:
    return Membership.objects.create(user=user, organization=organization, role=role)


def make_integration(
    *,
    organization: Organization,
    provider_name: str = "sandbox_whatsapp",
    display_name: str | None = None,
    status: str = OrganizationIntegration.Status.ACTIVE,
    config: dict | None = None,
    credentials: dict | None = None,
    priority: int | None = None,
    actor="system:test",
) -> OrganizationIntegration:
    return integration_create(
        organization=organization,
        provider_name=provider_name,
        display_name=display_name or f"{provider_name} {next(_counter)}",
        config=config or {},
        credentials={"api_key": SECRET_API_KEY} if credentials is None else credentials,
        priority=priority,
        status=status,
        actor=actor,
    )
