"""One way to show a time on the provider screens: "3 minutes ago", the full date on hover — the
same after the page refreshes itself."""

import datetime as dt

import pytest
from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone

from integrations.models import Membership
from tests.factories import make_integration, make_membership, make_user


@pytest.fixture
def client_a(client, organization):
    user = make_user(username="alice")
    make_membership(user=user, organization=organization, role=Membership.Role.ADMIN)
    client.force_login(user)
    return client


def test_ago_is_relative_with_the_full_date_on_hover():
    now = timezone.now()
    html = Template("{% load timestamps %}{{ a|ago }}|{{ b|ago }}|{{ c|ago }}").render(
        Context({"a": now, "b": now - dt.timedelta(minutes=3, seconds=5), "c": None})
    )
    just_now, three, none = html.replace("\xa0", " ").split("|")
    assert ">just now</time>" in just_now and 'title="' in just_now and f'datetime="{now.isoformat()}"' in just_now
    assert ">3 minutes ago</time>" in three
    assert none == "—"


def test_remaining_is_the_time_left_with_the_full_date_on_hover():
    now = timezone.now()
    html = Template("{% load timestamps %}{{ a|remaining }}|{{ b|remaining }}|{{ c|remaining }}").render(
        Context({"a": now + dt.timedelta(hours=3, minutes=1), "b": now - dt.timedelta(minutes=1), "c": None})
    )
    three, past, none = html.replace("\xa0", " ").split("|")
    assert ">3 hours</time>" in three and 'title="' in three
    assert past == "—"  # a time already gone has nothing left to tell
    assert none == "—"


@pytest.mark.django_db
def test_the_card_and_its_refresh_say_the_same(client_a, organization):
    integration = make_integration(organization=organization, display_name="Sandbox A")
    integration.health_checked_at = timezone.now() - dt.timedelta(minutes=3)
    integration.health_status = "healthy"
    integration.save()
    page = client_a.get(reverse("provider_admin:dashboard")).content.decode()
    page = page.replace("\xa0", " ")
    row = next(r for r in client_a.get(reverse("provider_admin:status")).json()["integrations"] if r["id"] == str(integration.pk))
    row["health_text"] = row["health_text"].replace("\xa0", " ")
    assert row["health_text"] == "Healthy · checked 3 minutes ago" and row["health_text"] in page
    assert row["checked_full"] and f'title="{row["checked_full"]}"' in page
    integration.health_checked_at = timezone.now()
    integration.save()
    row = client_a.get(reverse("provider_admin:status")).json()["integrations"][0]
    assert row["health_text"] == "Healthy · checked just now"  # never "0 minutes ago"
