import json

import pytest
from django.core.management import CommandError, call_command

from audit.models import AuditEvent
from integrations.models import Organization, OrganizationIntegration
from tests.factories import make_integration

pytestmark = pytest.mark.django_db


@pytest.fixture
def pair(organization):
    return (
        make_integration(organization=organization, display_name="Old"),
        make_integration(organization=organization, display_name="New"),
    )


def primary_name(organization):
    return OrganizationIntegration.objects.get(organization=organization, channel="whatsapp", is_primary=True).display_name


def test_switch_provider_by_name_prints_from_and_to(organization, pair, capsys):
    call_command("switch_provider", "--org", "acme", "--channel", "whatsapp", "--to", "New", "--reason", "maintenance")
    out = capsys.readouterr().out
    assert "Switched acme/whatsapp: Old" in out and "→ New" in out
    assert primary_name(organization) == "New"
    event = AuditEvent.objects.get(action="provider.switched")
    assert event.actor == "system:cli" and event.reason == "maintenance"


def test_switch_provider_by_id(organization, pair):
    call_command("switch_provider", "--org", "acme", "--channel", "whatsapp", "--to", str(pair[1].pk))
    assert primary_name(organization) == "New"


def test_dry_run_changes_nothing(organization, pair, capsys):
    call_command("switch_provider", "--org", "acme", "--channel", "whatsapp", "--to", "New", "--dry-run")
    assert "[dry run] would switch acme/whatsapp" in capsys.readouterr().out
    assert primary_name(organization) == "Old"
    assert not AuditEvent.objects.filter(action="provider.switched").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--org", "nope", "--channel", "whatsapp", "--to", "New"], "No organization with slug 'nope'"),
        (["--org", "acme", "--channel", "whatsapp", "--to", "Missing"], "has no whatsapp integration 'Missing'"),
        (["--org", "acme", "--channel", "voip", "--to", "New"], "has no voip integration 'New'"),
        (["--org", "acme", "--channel", "whatsapp", "--to", "Off"], "only an active integration can be primary"),
        (["--org", "acme", "--channel", "whatsapp", "--to", "Off", "--dry-run"], "would be refused"),
    ],
)
def test_refusals_exit_non_zero_with_a_clear_message(organization, pair, args, message):
    make_integration(organization=organization, display_name="Off", status="inactive")
    with pytest.raises(CommandError, match=message):
        call_command("switch_provider", *args)
    assert primary_name(organization) == "Old"


def test_refusal_exit_code_from_the_command_line(organization, pair):
    """The real process exits non-zero (CommandError → exit 1)."""
    import subprocess
    import sys

    from django.db import connection

    # The subprocess must see committed rows: this test's data is in an open transaction, so
    # ask for something that fails before touching data.
    env = {**__import__("os").environ, "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/" + connection.settings_dict["NAME"]}
    result = subprocess.run(
        [sys.executable, "manage.py", "switch_provider", "--org", "does-not-exist", "--channel", "whatsapp", "--to", "x"],
        capture_output=True, text=True, env=env, timeout=60,
    )
    assert result.returncode == 1
    assert "No organization with slug 'does-not-exist'" in result.stderr


def test_list_integrations_json(organization, pair, capsys):
    call_command("list_integrations", "--org", "acme", "--json")
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == ["Old", "New"]
    assert rows[0]["primary"] is True and rows[1]["primary"] is False


def test_seed_demo_is_idempotent_and_prints_the_login(settings, capsys):
    settings.DEBUG = True
    call_command("seed_demo")
    call_command("seed_demo")
    out = capsys.readouterr().out
    assert "Login:    admin / switchboard-demo" in out
    demo = Organization.objects.get(slug="demo")
    assert demo.integrations.count() == 4
    assert demo.integrations.filter(is_primary=True).count() == 2


def test_seed_demo_refuses_without_debug(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG=true"):
        call_command("seed_demo")
