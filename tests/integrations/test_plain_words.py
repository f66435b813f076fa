"""Plain language where an admin reads: provider differences as sentences, a failed test as what
happened and what to do, audit changes as before → after in words with the ids on demand."""

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from integrations.models import Membership, ProviderMigration
from integrations.reports.wording import audit_change, provider_differences
from providers.registry import get_registry
from tests.factories import make_integration, make_membership, make_user


@pytest.fixture
def client_a(client, organization):
    user = make_user(username="alice", superuser=True)
    make_membership(user=user, organization=organization, role=Membership.Role.ADMIN)
    client.force_login(user)
    return client


@pytest.fixture
def wizard(organization):
    make_integration(organization=organization, display_name="Sandbox A")
    return reverse("provider_admin:migrate", args=[organization.slug, "whatsapp"])


def test_differences_are_sentences():
    registry = get_registry()
    sandbox, web, meta = (registry.get(n) for n in ("sandbox_whatsapp", "whatsapp_web", "meta_cloud"))
    web_words = provider_differences(web, meta)
    assert "Unofficial: it acts like a phone using WhatsApp, so the number can be banned." in web_words
    assert any(s.startswith("Adds ") and "pairing a phone by QR code" in s for s in web_words)
    assert any(s.startswith("You would lose ") and "importing your approved templates" in s for s in web_words)
    assert "No 24-hour rule: free text reaches a contact at any time." in web_words
    assert any(s.startswith("Less reliable than the current provider (rated ") for s in web_words)
    assert provider_differences(sandbox, sandbox) == []


@pytest.mark.django_db
def test_step_1_reads_in_words_not_feature_codes(client_a, wizard):
    page = client_a.get(wizard).content.decode().replace("&#x27;", "'")
    assert "Differs:" not in page
    for code in ("read_receipts", "qr_pairing", "media_download", "stability low"):
        assert code not in page, code
    assert "the number can be banned" in page and "Supports " in page


@pytest.mark.django_db
def test_a_failed_test_says_what_happened_and_what_to_do(client_a, wizard):
    client_a.post(wizard + "select/", {"provider_name": "sandbox_whatsapp"})
    client_a.post(wizard + "configure/", {"display_name": "Broken", "cfg__health": "down"})
    page = client_a.post(wizard + "test/", follow=True).content.decode()
    assert "Broken did not answer the connection test, or refused it." in page
    assert "What to do:" in page and "Change configuration" in page
    assert "Technical details" in page  # the service's words (and any code) on demand


def test_audit_change_in_words_with_names_for_ids():
    source, target = "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"
    lines = audit_change(
        {"state": "tested", "is_primary": False, "target": source},
        {"state": "executing", "is_primary": True, "target": target, "id": target},
        names={target: "Sandbox B"},
    )
    assert lines == ["state: Tested → Executing", "primary: no → yes", "to: another integration → “Sandbox B”"]
    assert audit_change(None, {"display_name": "B", "priority": 90}) == ["name: B", "fallback priority: 90"]


@pytest.mark.django_db
def test_the_migration_trail_and_the_audit_admin_show_changes_in_words(client_a, organization, wizard):
    client_a.post(wizard + "select/", {"provider_name": "sandbox_whatsapp"})
    client_a.post(wizard + "configure/", {"display_name": "Sandbox B"})
    client_a.post(wizard + "test/")  # records health and answer time
    client_a.post(wizard + "back/")  # the next event does not
    migration = ProviderMigration.objects.get()
    page = client_a.get(reverse("provider_admin:migration", args=[organization.slug, "whatsapp", migration.pk])).content.decode()
    assert "state: Draft → Configured" in page and "provider: Sandbox WhatsApp" in page
    assert "→ none" not in page  # a detail only one event recorded is not reported as removed
    assert "to: none → “Sandbox B”" in page
    assert "Show ids" in page and str(migration.target_id) in page  # ids on demand
    event = AuditEvent.objects.for_org(organization).filter(action="integration.created").first()
    admin_page = client_a.get(reverse("admin:audit_auditevent_change", args=[event.pk])).content.decode()
    assert "Change, in words" in admin_page and "name: Sandbox B" in admin_page


@pytest.mark.django_db
def test_a_failed_migration_says_what_to_do(client_a, organization, wizard):
    migration = ProviderMigration.objects.create(
        organization=organization, channel="whatsapp", state=ProviderMigration.State.FAILED,
        error="The target is down: Sandbox reports down.", finished_at=timezone.now(),
    )
    page = client_a.get(reverse("provider_admin:migration", args=[organization.slug, "whatsapp", migration.pk])).content.decode()
    assert "The target is down" in page and "What to do:" in page
    assert "Sandbox A is the primary, so messages keep going out." in page
