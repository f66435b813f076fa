"""Brazilian Portuguese beside English: the catalog, how it is built, and what a person sees."""

from __future__ import annotations

import gettext
import re
import shutil
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.core import mail
from django.template import Context, Template
from django.urls import reverse
from django.utils import translation
from rest_framework.authtoken.models import Token

from integrations.models import Membership
from integrations.services import notifications
from scripts.compile_messages import compile_catalog
from tests.factories import make_integration, make_membership, make_user

CATALOG = Path(settings.BASE_DIR) / "locale" / "pt_BR" / "LC_MESSAGES" / "django.po"
PLACEHOLDER = re.compile(r"%\(\w+\)s|\{\w+\}")


def test_every_message_has_a_brazilian_portuguese_translation_with_the_same_placeholders():
    catalog = polib.pofile(str(CATALOG))
    assert len(catalog) >= 30
    assert not catalog.fuzzy_entries(), [e.msgid for e in catalog.fuzzy_entries()]
    assert not catalog.untranslated_entries(), [e.msgid for e in catalog.untranslated_entries()]
    for entry in catalog:
        if entry.msgid_plural:  # each plural form keeps the placeholders of the English plural
            for form in entry.msgstr_plural.values():
                assert sorted(PLACEHOLDER.findall(entry.msgid_plural)) == sorted(PLACEHOLDER.findall(form)), entry.msgid
            continue
        assert sorted(PLACEHOLDER.findall(entry.msgid)) == sorted(PLACEHOLDER.findall(entry.msgstr)), entry.msgid


def test_the_catalog_compiles_without_gettext_into_what_django_reads(tmp_path):
    po = tmp_path / "django.po"
    shutil.copy(CATALOG, po)
    mo = compile_catalog(po)
    with mo.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    assert compiled.gettext("Not found.") == "Não encontrado."
    assert compiled.gettext("Language") == "Idioma"


# --------------------------------------------------------------------------- API


@pytest.fixture
def api_user(organization):
    user = make_user(username="ana")
    make_membership(user=user, organization=organization, role=Membership.Role.ADMIN)
    return user


def api_headers(user, language: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Token {Token.objects.get_or_create(user=user)[0].key}", "HTTP_ACCEPT_LANGUAGE": language}


@pytest.mark.django_db
def test_api_errors_follow_accept_language(client, api_user, organization):
    unauthenticated = client.get("/api/v1/integrations/", HTTP_ACCEPT_LANGUAGE="pt-BR")
    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["detail"] == "As credenciais de autenticação não foram fornecidas."
    assert unauthenticated["Content-Language"] == "pt-br"

    invalid = client.post("/api/v1/channels/whatsapp/switch/", {"integration_id": "not-a-uuid"},
                          content_type="application/json", **api_headers(api_user, "pt-BR"))
    assert invalid.json()["errors"] == {"integration_id": ["Deve ser um UUID válido."]}  # DRF's own catalog

    unknown = "0b6f1f64-3c1b-4f55-9d6a-2f1f4d1e9c11"
    for language, expected in (
        ("pt-BR,pt;q=0.9", "Integração inexistente."),
        ("en-US,en;q=0.8", "No such integration."),
    ):
        response = client.post("/api/v1/channels/whatsapp/switch/", {"integration_id": unknown, "reason": "x"},
                               content_type="application/json", **api_headers(api_user, language))
        assert response.status_code in (400, 404, 409), response.content
        assert response.json()["detail"] == expected

    missing = client.get("/api/v1/no-such-thing/", **api_headers(api_user, "pt-BR"))
    assert missing.status_code == 404 and missing.json()["detail"] == "Não encontrado."


@pytest.mark.django_db
def test_a_service_refusal_is_worded_in_portuguese(client, api_user, organization):
    primary = make_integration(organization=organization, display_name="Principal", config={"label": "p"})
    response = client.delete(f"/api/v1/integrations/{primary.pk}/", **api_headers(api_user, "pt-BR"))
    assert response.status_code == 409, response.content
    assert response.json()["detail"].startswith(
        "'Principal' é a integração principal de whatsapp; troque a principal para outra integração primeiro, "
        "ou exclua-a com a promoção da próxima reserva.")


# --------------------------------------------------------------------------- admin


@pytest.mark.django_db
def test_the_admins_language_switch_turns_the_screens_portuguese(client, organization):
    user = make_user(username="bia")
    make_membership(user=user, organization=organization, role=Membership.Role.ADMIN)
    make_integration(organization=organization, display_name="Principal", config={"label": "p"})
    client.force_login(user)
    dashboard = reverse("provider_admin:dashboard")

    english = client.get(dashboard).content.decode()
    assert 'name="language"' in english and ">Language<" in english

    response = client.post("/i18n/setlang/", {"language": "pt-br", "next": dashboard})
    assert response.status_code == 302 and response["Location"] == dashboard
    page = client.get(dashboard)
    html = page.content.decode()
    assert page["Content-Language"] == "pt-br"
    assert '<html lang="pt-br"' in html
    assert ">Idioma<" in html and '<option value="pt-br" lang="pt-br" selected>' in html
    assert "Encerrar sessão" in html  # Django's own admin chrome, from Django's catalog

    client.post("/i18n/setlang/", {"language": "en", "next": dashboard})
    assert ">Language<" in client.get(dashboard).content.decode()


@pytest.mark.django_db
def test_accept_language_alone_picks_portuguese_for_the_admin(client, organization):
    user = make_user(username="caio")
    make_membership(user=user, organization=organization, role=Membership.Role.ADMIN)
    client.force_login(user)
    html = client.get(reverse("provider_admin:dashboard"), HTTP_ACCEPT_LANGUAGE="pt-BR,pt;q=0.9").content.decode()
    assert ">Idioma<" in html


# --------------------------------------------------------------------------- formatting and email


@pytest.mark.parametrize(
    ("language", "money", "number", "date"),
    [
        ("en", "$1,234.50", "3,240", "Dec. 1, 2026"),
        ("pt-br", "US$\xa01.234,50", "3.240", "1 de Dezembro de 2026"),
    ],
)
def test_money_numbers_and_dates_are_written_the_readers_way(language, money, number, date):
    import datetime

    template = Template("{% load locale_format %}{{ amount|money:'usd' }}|{{ count|number }}|{{ day|date }}|{{ rate|number:1 }}")
    with translation.override(language):
        rendered = template.render(Context({"amount": "1234.5", "count": 3240, "day": datetime.date(2026, 12, 1), "rate": 97.25}))
    assert rendered.split("|")[:3] == [money, number, date]
    assert rendered.split("|")[3] == ("97.2" if language == "en" else "97,2")


@pytest.mark.django_db
def test_notification_emails_are_written_in_the_deployments_language(settings, organization, django_capture_on_commit_callbacks):
    from integrations.services.delivery import breaker

    settings.LANGUAGE_CODE = "pt-br"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.BREAKER_FAILURE_THRESHOLD = 1
    user = make_user(username="dora")
    make_membership(user=user, organization=organization, role=Membership.Role.OWNER)
    integration = make_integration(organization=organization, display_name="Principal", config={"label": "p"})

    # The request that tripped the breaker spoke English; the owners' email is in LANGUAGE_CODE.
    with translation.override("en"), django_capture_on_commit_callbacks(execute=True):
        breaker.record_failure(integration=integration, detail="timeout")

    (email,) = [m for m in mail.outbox if "Principal" in m.subject]
    assert "Principal (sandbox_whatsapp) está falhando: disjuntor aberto" in email.subject
    assert "Evento: provider.down" in email.body and "Organização: Acme" in email.body and "Quando: " in email.body
    _, body = notifications.email_text(
        organization=organization,
        payload={"summary": "x", "event": "provider.down", "data": {}, "occurred_at": "2026-12-01T15:30:00+00:00"},
    )
    assert "Quando: 1 de Dezembro de 2026 às 15:30" in body
