"""The dashboard's WhatsApp 24-hour windows: how many are open, the latest ones in words, and the
"is this contact's window open?" lookup — each organization seeing only its own contacts."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from integrations.models import Membership, ServiceWindow
from integrations.selectors.service_windows import contact_window, window_overview
from tests.factories import make_membership, make_user

OPEN = "+5511987650001"
EXPIRED = "+5511987650002"
OTHERS = "+5521987650003"  # Globex's contact
NEVER = "+5511987650004"
DASHBOARD = reverse("provider_admin:dashboard")


@pytest.fixture
def windows(organization, other_organization):
    now = timezone.now()
    ServiceWindow.objects.create(organization=organization, contact=OPEN, last_inbound_at=now - timedelta(hours=20, minutes=59))
    ServiceWindow.objects.create(organization=organization, contact=EXPIRED, last_inbound_at=now - timedelta(hours=26))
    ServiceWindow.objects.create(organization=other_organization, contact=OTHERS,
                                 last_inbound_at=now - timedelta(minutes=5))
    return now


@pytest.fixture
def client_a(client, organization):
    user = make_user(username="alice")
    make_membership(user=user, organization=organization, role=Membership.Role.ADMIN)
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_the_overview_counts_open_windows_and_lists_the_latest_first(organization, other_organization, windows):
    overview = window_overview(organization=organization, channel="whatsapp")
    assert overview["open_count"] == 1
    assert [(row.contact, row.open) for row in overview["recent"]] == [(OPEN, True), (EXPIRED, False)]
    assert overview["recent"][0].expires_at == overview["recent"][0].last_inbound_at + timedelta(hours=24)
    # Another organization's window counts nowhere else; the voice channel has none.
    assert window_overview(organization=other_organization, channel="whatsapp")["open_count"] == 1
    assert window_overview(organization=organization, channel="voip") == {"open_count": 0, "recent": []}
    assert len(window_overview(organization=organization, channel="whatsapp", limit=1)["recent"]) == 1


@pytest.mark.django_db
def test_one_contacts_window_is_open_closed_or_absent_and_never_another_organizations(organization, windows):
    assert contact_window(organization=organization, channel="whatsapp", contact=OPEN).open is True
    assert contact_window(organization=organization, channel="whatsapp", contact=EXPIRED).open is False
    assert contact_window(organization=organization, channel="whatsapp", contact=NEVER) is None
    assert contact_window(organization=organization, channel="whatsapp", contact=OTHERS) is None


@pytest.mark.django_db
def test_the_dashboard_shows_the_windows_in_words_with_the_date_on_hover(client_a, windows):
    html = client_a.get(DASHBOARD).content.decode()
    assert "24-hour service windows" in html
    assert "1 contact with an open window now" in html
    assert re.search(r'open for another <time datetime="[^"]+" title="[^"]+">3(?:\xa0| )hours</time>', html), html
    assert re.search(r'closed <time datetime="[^"]+" title="[^"]+">2(?:\xa0| )hours ago</time>', html), html
    assert html.index(OPEN) < html.index(EXPIRED)
    assert OTHERS not in html  # tenant isolation: Globex's contact is never shown to Acme's admin
    assert 'action="#windows-acme"' in html and 'role="status"' not in html  # nothing asked yet
    assert 'aria-describedby="id_acme_contact_helptext"' in html and 'id="id_acme_contact_helptext"' in html


@pytest.mark.django_db
def test_the_lookup_answers_open_closed_never_and_invalid(client_a, windows):
    def ask(contact: str) -> str:
        return client_a.get(DASHBOARD, {"window_org": "acme", "contact": contact}).content.decode()

    assert "Open until " in ask(OPEN.lstrip("+")) and f"free text reaches {OPEN}." in ask(OPEN)
    assert f"only an approved template can start the conversation with {EXPIRED}." in ask(EXPIRED)
    assert f"Closed: {NEVER} has not written to you" in ask(NEVER)
    # Globex's open window is not Acme's: answered as a contact who never wrote.
    closed = ask(OTHERS)
    assert f"Closed: {OTHERS} has not written to you" in closed and "free text reaches" not in closed
    invalid = ask("12345")
    assert "This is not a valid phone number." in invalid and 'role="status"' not in invalid
    assert 'role="alert"' in invalid


@pytest.mark.django_db
def test_a_lookup_sent_for_another_organization_is_not_answered(client_a, windows):
    html = client_a.get(DASHBOARD, {"window_org": "globex", "contact": OTHERS}).content.decode()
    assert 'role="status"' not in html and OTHERS not in html and "Globex" not in html
