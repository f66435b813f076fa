"""Tenant isolation, generated from the URL configuration.

Every API route and method is listed below with how it can reach another organization's data.
A user of organization A then calls it with organization B's ids, once with no header (A is
their only organization) and once with B's id or slug spoofed in ``X-Org-Id``:

* spoofed header: 403, always;
* B's object ids in the path or body: 404 (never 403: existence is not confirmed);
* routes that take no id act on A alone: B's ids never appear in the answer.

In every case B's rows are exactly as before. A route missing from ``CASES`` fails the test.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from audit.models import AuditEvent
from integrations.models import (
    Call,
    ConversationEvent,
    Membership,
    Message,
    MessageTemplate,
    OrganizationIntegration,
    Rollout,
    ScheduledSwitch,
    SpendCap,
    TemplateMapping,
)

from .conftest import Tenant

MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
HTTP_METHODS = ("get", "post", "put", "patch", "delete")


def discover_api_endpoints() -> set[tuple[str, str]]:
    """(namespaced route name, METHOD) for every route under /api/."""
    found: set[tuple[str, str]] = set()

    def walk(patterns, prefix: str, namespace: str | None):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                # Nested namespaces join: api:analytics:costs.
                ns = ":".join(filter(None, (namespace, pattern.namespace))) or None
                walk(pattern.url_patterns, prefix + str(pattern.pattern), ns)
            elif isinstance(pattern, URLPattern):
                route = prefix + str(pattern.pattern)
                if not route.lstrip("^").startswith("api/"):
                    continue
                name = f"{namespace}:{pattern.name}" if namespace else pattern.name
                callback = pattern.callback
                cls = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
                allowed = set(getattr(cls, "http_method_names", HTTP_METHODS))
                actions = getattr(callback, "actions", None)
                if actions is not None:
                    methods = {m for m in actions if m in allowed}
                else:
                    methods = {m for m in HTTP_METHODS if m in allowed and hasattr(cls, m)}
                for method in methods:
                    found.add((name, method.upper()))

    walk(get_resolver().url_patterns, "", None)
    return found


@dataclass(frozen=True)
class Case:
    """How a route is called with organization B's ids.

    ``kind``: "foreign" (B's ids in path or body → 404), "scoped" (no id: acts on A only) or
    "public" (no tenant data: token, schema, docs).
    """

    kind: str
    kwargs: Callable[[Tenant], dict] = lambda b: {}
    body: Callable[[Tenant], dict | None] = lambda b: None


def _b_event(b: Tenant) -> str:
    return str(AuditEvent.objects.for_org(b.organization).first().pk)


def _message_with_a_kept_file(t: Tenant) -> str:
    """The tenant's message with an inbound attachment kept in storage (MEDIA_ROOT is a
    temporary directory in the API tests)."""
    if not t.message.attachments:
        path = default_storage.save(f"inbound-media/{t.organization.pk}/{t.message.pk}/0-photo.jpg", ContentFile(b"jpeg"))
        t.message.attachments = [{"url": "sandbox-media:photo.jpg", "mime_type": "image/jpeg", "stored_path": path, "size": 4}]
        t.message.save(update_fields=["attachments", "updated_at"])
    return str(t.message.pk)


def _b_conversation_event(b: Tenant) -> str:
    event, _ = ConversationEvent.objects.get_or_create(
        organization=b.organization, integration=b.whatsapp_primary, kind=ConversationEvent.Kind.REACTION,
        provider_event_id="wamid.b-reaction", defaults={"contact": "+14155550199", "emoji": "👍"},
    )
    return str(event.pk)


def _legacy_body(b: Tenant) -> dict:
    return {"provider_type": "sandbox_whatsapp", "organization_id": str(b.organization.pk),
            "config_data": {"label": "from A"}, "is_active": True}


def _b_scheduled_switch(b: Tenant) -> dict:
    row = ScheduledSwitch.objects.create(
        organization=b.organization, channel="whatsapp", target=b.whatsapp_fallback,
        target_name=b.whatsapp_fallback.display_name, at=timezone.now() + timedelta(hours=1),
    )
    return {"channel": "whatsapp", "pk": row.pk}


def _b_rollout(b: Tenant) -> dict:
    """A running rollout of B's (one per channel: the same one on every call)."""
    row, _created = Rollout.objects.get_or_create(
        organization=b.organization, channel="whatsapp", status=Rollout.Status.RUNNING,
        defaults={"target": b.whatsapp_fallback, "source": b.whatsapp_primary, "target_name": b.whatsapp_fallback.display_name,
                  "steps": [10, 100], "step_seconds": 60, "max_failure_rate": 0.1, "step_started_at": timezone.now()},
    )
    return {"channel": "whatsapp", "pk": row.pk}


def _b_spend_cap(b: Tenant) -> dict:
    SpendCap.objects.get_or_create(organization=b.organization, integration=b.whatsapp_fallback,
                                   defaults={"monthly_budget": 10, "currency": "USD"})
    return {"channel": "whatsapp", "integration_id": b.whatsapp_fallback.pk}


CASES: dict[tuple[str, str], Case] = {
    ("api:auth-token", "POST"): Case("public", body=lambda b: {"username": b.admin.username, "password": "wrong"}),
    ("api:schema", "GET"): Case("public"),
    ("api:docs", "GET"): Case("public"),
    ("api:provider-list", "GET"): Case("scoped"),
    ("api:provider-detail", "GET"): Case("scoped", kwargs=lambda b: {"name": "sandbox_whatsapp"}),
    ("api:integration-list", "GET"): Case("scoped"),
    ("api:integration-list", "POST"): Case(
        "scoped", body=lambda b: {"provider_name": "sandbox_whatsapp", "display_name": "made by A"}
    ),
    ("api:integration-detail", "GET"): Case("foreign", kwargs=lambda b: {"pk": b.whatsapp_fallback.pk}),
    ("api:integration-detail", "PATCH"): Case(
        "foreign", kwargs=lambda b: {"pk": b.whatsapp_fallback.pk}, body=lambda b: {"display_name": "taken over"}
    ),
    ("api:integration-detail", "DELETE"): Case("foreign", kwargs=lambda b: {"pk": b.whatsapp_fallback.pk}),
    ("api:integration-test", "POST"): Case("foreign", kwargs=lambda b: {"pk": b.whatsapp_fallback.pk}),
    ("api:integration-make-primary", "POST"): Case(
        "foreign", kwargs=lambda b: {"pk": b.whatsapp_fallback.pk}, body=lambda b: {"reason": "x"}
    ),
    ("api:integration-reorder", "POST"): Case(
        "foreign",
        body=lambda b: {"channel": "whatsapp",
                        "ordered_ids": [str(b.whatsapp_fallback.pk), str(b.whatsapp_primary.pk)]},
    ),
    ("api:channel-list", "GET"): Case("scoped"),
    ("api:channel-detail", "GET"): Case("scoped", kwargs=lambda b: {"channel": "whatsapp"}),
    ("api:channel-switch", "POST"): Case(
        "foreign", kwargs=lambda b: {"channel": "whatsapp"},
        body=lambda b: {"integration_id": str(b.whatsapp_fallback.pk), "reason": "x"},
    ),
    ("api:channel-policy", "GET"): Case("scoped", kwargs=lambda b: {"channel": "whatsapp"}),
    ("api:channel-policy", "PUT"): Case(
        "foreign", kwargs=lambda b: {"channel": "whatsapp"},
        body=lambda b: {"mode": "split", "weights": {str(b.whatsapp_fallback.pk): 100}},
    ),
    ("api:scheduled-switch-list", "GET"): Case("scoped", kwargs=lambda b: {"channel": "whatsapp"}),
    ("api:scheduled-switch-list", "POST"): Case(
        "foreign", kwargs=lambda b: {"channel": "whatsapp"},
        body=lambda b: {"integration_id": str(b.whatsapp_fallback.pk), "at": (timezone.now() + timedelta(hours=1)).isoformat()},
    ),
    ("api:scheduled-switch-cancel", "POST"): Case("foreign", kwargs=_b_scheduled_switch),
    ("api:rollout-list", "GET"): Case("scoped", kwargs=lambda b: {"channel": "whatsapp"}),
    ("api:rollout-list", "POST"): Case(
        "foreign", kwargs=lambda b: {"channel": "whatsapp"},
        body=lambda b: {"integration_id": str(b.whatsapp_fallback.pk), "steps": [10, 100], "step_seconds": 60,
                        "max_failure_rate": 0.1},
    ),
    ("api:rollout-detail", "GET"): Case("foreign", kwargs=_b_rollout),
    ("api:rollout-cancel", "POST"): Case("foreign", kwargs=_b_rollout),
    ("api:spend-cap-list", "GET"): Case("scoped", kwargs=lambda b: {"channel": "whatsapp"}),
    ("api:spend-cap-detail", "PUT"): Case(
        "foreign", kwargs=lambda b: {"channel": "whatsapp", "integration_id": b.whatsapp_fallback.pk},
        body=lambda b: {"monthly_budget": "10", "currency": "USD"},
    ),
    ("api:spend-cap-detail", "DELETE"): Case("foreign", kwargs=_b_spend_cap),
    ("api:message-list", "GET"): Case("scoped"),
    ("api:message-list", "POST"): Case("scoped", body=lambda b: {"channel": "whatsapp", "to": "+14155550111", "body": "A"}),
    ("api:message-batch", "POST"): Case(
        "scoped", body=lambda b: {"messages": [{"to": "+14155550113", "body": "A", "idempotency_key": "batch-a"}]}
    ),
    ("api:message-detail", "GET"): Case("foreign", kwargs=lambda b: {"pk": b.message.pk}),
    ("api:message-attachment", "GET"): Case("foreign", kwargs=lambda b: {"pk": _message_with_a_kept_file(b), "index": 0}),
    ("api:call-list", "GET"): Case("scoped"),
    ("api:call-list", "POST"): Case("scoped", body=lambda b: {"to": "+14155550112"}),
    ("api:call-detail", "GET"): Case("foreign", kwargs=lambda b: {"pk": b.call.pk}),
    ("api:call-hangup", "POST"): Case("foreign", kwargs=lambda b: {"pk": b.call.pk}),
    ("api:audit-event-list", "GET"): Case("scoped"),
    ("api:audit-event-detail", "GET"): Case("foreign", kwargs=lambda b: {"pk": _b_event(b)}),
    ("api:legacy-channel-providers", "GET"): Case("scoped", kwargs=lambda b: {"channel": "whatsapp"}),
    ("api:legacy-provider-current", "GET"): Case("scoped", kwargs=lambda b: {"channel": "whatsapp"}),
    ("api:legacy-provider-configure", "POST"): Case("scoped", kwargs=lambda b: {"channel": "whatsapp"}, body=_legacy_body),
    ("api:legacy-provider-switch", "POST"): Case("scoped", kwargs=lambda b: {"channel": "whatsapp"}, body=_legacy_body),
    ("api:legacy-providers", "GET"): Case("scoped"),
    ("api:legacy-providers-switch", "POST"): Case(
        "scoped", body=lambda b: {"provider_type": "whatsapp", "new_provider": "sandbox_whatsapp", "config": {}}
    ),
    ("api:legacy-providers-status", "GET"): Case("scoped", kwargs=lambda b: {"provider_type": "whatsapp"}),
    ("api:legacy-providers-switch-primary", "POST"): Case(
        "foreign", body=lambda b: {"provider_type": "whatsapp", "new_provider_id": str(b.whatsapp_fallback.pk)}
    ),
    # Cost analytics (integrations/api/analytics.py): read-only figures of the caller's organization.
    ("api:analytics:costs", "GET"): Case("scoped"),
    ("api:analytics:estimate", "POST"): Case("scoped", body=lambda b: {"channel": "whatsapp", "monthly_volume": "1000"}),
    # Message templates (integrations/api/templates.py).
    ("api:template-list", "GET"): Case("scoped"),
    ("api:template-list", "POST"): Case(
        "scoped", body=lambda b: {"name": "made_by_a", "language": "en", "category": "utility", "body": "Hi {{1}}"}
    ),
    ("api:template-detail", "GET"): Case("foreign", kwargs=lambda b: {"pk": b.template.pk}),
    ("api:template-detail", "PATCH"): Case("foreign", kwargs=lambda b: {"pk": b.template.pk}, body=lambda b: {"body": "taken"}),
    ("api:template-detail", "DELETE"): Case("foreign", kwargs=lambda b: {"pk": b.template.pk}),
    ("api:template-map", "POST"): Case(
        "foreign", kwargs=lambda b: {"pk": b.template.pk}, body=lambda b: {"integration": str(b.whatsapp_fallback.pk)}
    ),
    ("api:template-unmap", "POST"): Case(
        "foreign", kwargs=lambda b: {"pk": b.template.pk}, body=lambda b: {"integration": str(b.whatsapp_primary.pk)}
    ),
    ("api:template-import", "POST"): Case("foreign", body=lambda b: {"integration": str(b.whatsapp_primary.pk)}),
    ("api:template-window-fallback", "POST"): Case("foreign", kwargs=lambda b: {"pk": b.template.pk}, body=lambda b: {"enabled": True}),
    ("api:service-window-list", "GET"): Case("scoped"),
    ("api:conversation-event-list", "GET"): Case("scoped"),
    ("api:conversation-event-detail", "GET"): Case("foreign", kwargs=lambda b: {"pk": _b_conversation_event(b)}),
}

ENDPOINTS = sorted(discover_api_endpoints())


def test_the_matrix_covers_every_api_route():
    discovered = set(ENDPOINTS)
    assert len(discovered) >= 30
    assert not discovered - set(CASES), f"routes without an isolation case: {sorted(discovered - set(CASES))}"


def snapshot(tenant: Tenant) -> dict:
    org = tenant.organization
    return {
        "integrations": sorted(
            (str(row.pk), row.display_name, row.status, row.is_primary, row.priority, row.config,
             row.credentials, row.health_status, str(row.updated_at))
            for row in OrganizationIntegration.objects.for_org(org)
        ),
        "messages": sorted(Message.objects.for_org(org).values_list("pk", "status", "body", "updated_at")),
        "calls": sorted(Call.objects.for_org(org).values_list("pk", "status", "updated_at")),
        "audit_events": AuditEvent.objects.for_org(org).count(),
        "templates": sorted(MessageTemplate.objects.for_org(org).values_list("pk", "name", "body", "updated_at")),
        "template_mappings": sorted(TemplateMapping.objects.for_org(org).values_list("pk", "status", "updated_at")),
        "memberships": sorted(Membership.objects.filter(organization=org).values_list("user_id", "role")),
    }


def b_markers(b: Tenant) -> list[str]:
    ids = [b.organization.pk, b.whatsapp_primary.pk, b.whatsapp_fallback.pk, b.voip_primary.pk, b.message.pk, b.call.pk,
           b.template.pk]
    return [str(i) for i in ids] + [b.whatsapp_primary.display_name, b.message.body]


def call(client, method: str, url: str, body):
    return getattr(client, method.lower())(url, body, format="json") if body is not None else getattr(client, method.lower())(url)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: f"{e[1]} {e[0]}" if isinstance(e, tuple) else str(e))
def test_a_user_of_a_cannot_reach_b(endpoint, api_client, tenant_a, tenant_b):
    name, method = endpoint
    case = CASES.get(endpoint)
    if case is None:
        pytest.fail(f"{method} {name} has no isolation case; add one to CASES")
    # The spoofed headers go first: a request that is refused must leave B (and A) untouched,
    # so the unspoofed request after them still finds B's objects where they were.
    for org_header in (str(tenant_b.organization.pk), tenant_b.organization.slug, None):
        client = api_client(tenant_a.admin, org=org_header)
        url = reverse(name, kwargs=case.kwargs(tenant_b))
        body = case.body(tenant_b)
        before = snapshot(tenant_b)

        response = call(client, method, url, body)

        where = (method, url, org_header, response.status_code, response.content[:300])
        assert response.status_code < 500, where
        assert snapshot(tenant_b) == before, f"{method} {url} (X-Org-Id {org_header}) changed organization B"
        if case.kind == "public":
            assert response.status_code in (200, 400), where
        elif org_header:
            assert response.status_code == 403, where
            assert response.json()["code"] == "not_a_member"
        elif case.kind == "foreign":
            assert response.status_code == 404, where
        else:
            assert response.status_code in (200, 201, 202), where
        content = response.content.decode()
        # The caller's own header value may be echoed back; nothing else of B may be.
        leaked = [marker for marker in b_markers(tenant_b) if marker in content and marker != org_header]
        assert not leaked, f"{method} {url} (X-Org-Id {org_header}) revealed B's data: {leaked}"
