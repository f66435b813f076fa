"""The admin's provider screens in Brazilian Portuguese: each screen rendered in pt-BR shows the
catalog's Portuguese, and none of the English it translated is left on the page."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.urls import reverse
from django.utils.timezone import localtime

from integrations.models import Membership
from integrations.services.migration.wizard import migration_start
from providers.registry import get_registry
from tests.factories import make_integration, make_membership, make_user

CATALOG = Path(settings.BASE_DIR) / "locale" / "pt_BR" / "LC_MESSAGES" / "django.po"
PLACEHOLDER = re.compile(r"%\(\w+\)[sdf]|\{\w+\}")
SHOWN_ATTRIBUTES = {"aria-label", "title", "alt", "placeholder", "data-label"}


class _VisibleText(HTMLParser):
    """What a person reads or hears: text outside <script>/<style>, and labelling attributes."""

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._hidden += 1
        self.parts.extend(value for name, value in attrs if name in SHOWN_ATTRIBUTES and value)

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._hidden:
            self._hidden -= 1

    def handle_data(self, data):
        if not self._hidden:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _VisibleText()
    parser.feed(html)
    return re.sub(r"[ \t\n\r\f\v]+", " ", " ".join(parser.parts)).strip()  # keeps no-break spaces


def english_left_over(text: str, sources: tuple[str, ...]) -> list[str]:
    """The English msgids from ``sources`` (paths as the catalog's references name them) found
    in ``text``: each literal run between placeholders of at least two words, matched whole."""
    left = []
    for entry in polib.pofile(str(CATALOG)):
        if entry.msgid == entry.msgstr or not any(path in sources for path, _ in entry.occurrences):
            continue
        fragments = PLACEHOLDER.split(entry.msgid)
        for fragment in fragments:
            fragment = " ".join(fragment.split()).strip(" .,:;—()")
            one_word = " " not in fragment
            if not fragment or (one_word and (len(fragment) < 4 or len(fragments) > 1)) or fragment in entry.msgstr:
                continue
            if re.search(rf"(?<![\w-]){re.escape(fragment)}(?![\w-])", text):
                left.append(fragment)
    return left


def provider_words(provider_class) -> list[str]:
    """What a provider declares for people: its description, its settings' labels and help."""
    words = [provider_class.description]
    for field in provider_class.config_fields:
        words += [field.label, field.help_text]
    return [w for w in words if w]


def test_every_word_a_provider_declares_is_in_the_catalog():
    from integrations.provider_words import PROVIDER_WORDS

    catalog = {entry.msgid: entry.msgstr for entry in polib.pofile(str(CATALOG))}
    for provider_class in get_registry().all():
        for words in provider_words(provider_class):
            assert words in PROVIDER_WORDS, f"{provider_class.name}: add {words!r} to integrations/provider_words.py"
            assert catalog.get(words), words


def assert_portuguese(html: str, *, shows: list[str], sources: tuple[str, ...]):
    text = visible_text(html)
    for portuguese in shows:
        assert portuguese in text, (portuguese, text)
    assert not english_left_over(text, sources), english_left_over(text, sources)


@pytest.fixture
def portuguese_admin(client, organization):
    user = make_user(username="bruna")
    make_membership(user=user, organization=organization, role=Membership.Role.ADMIN)
    client.force_login(user)
    client.post("/i18n/setlang/", {"language": "pt-br", "next": "/admin/"})
    return client


NAVIGATION = ("templates/admin/providers/base.html", "templates/admin/app_list.html",
              "integrations/templatetags/provider_admin.py")


@pytest.mark.django_db
def test_the_navigation_is_portuguese(portuguese_admin, organization):
    make_integration(organization=organization, display_name="Principal", config={"label": "p"})
    index = portuguese_admin.get(reverse("admin:index")).content.decode()
    assert_portuguese(index, shows=["Provedores", "Painel de provedores", "Histórico de migrações — Acme",
                                    "Análise de custos"], sources=NAVIGATION)


@pytest.mark.django_db
def test_the_migration_history_is_portuguese(portuguese_admin, organization):
    make_integration(organization=organization, display_name="Principal", config={"label": "p"})
    url = reverse("provider_admin:history", args=[organization.slug])
    empty = portuguese_admin.get(url).content.decode()
    assert_portuguese(empty, shows=["Nenhuma migração ainda.", "nenhuma migração concluída ainda"],
                      sources=("templates/admin/providers/history.html",))

    migration = migration_start(organization=organization, channel="whatsapp", provider_name="sandbox_whatsapp",
                                actor=None)
    html = portuguese_admin.get(url).content.decode()
    assert_portuguese(html, shows=["Histórico de migrações — Acme", "Migrações de Acme", "Taxa de sucesso, últimos",
                                   "Iniciada em", "Resultado", "Duração", "Rascunho"],
                      sources=NAVIGATION + ("templates/admin/providers/history.html", "integrations/views/history.py"))
    assert 'data-label="Iniciada em"' in html  # the narrow-screen column labels too
    # "agora mesmo" in the text, the date on hover, the day first as Brazil writes it
    assert "agora mesmo" in html and localtime(migration.created_at).strftime("%d/%m/%Y") in html


DETAIL = NAVIGATION + ("templates/admin/providers/detail.html", "templates/admin/providers/_card.html",
                       "integrations/views/presenters.py", "integrations/views/detail.py")


@pytest.mark.django_db
def test_the_provider_detail_page_is_portuguese(portuguese_admin, organization):
    from decimal import Decimal

    from django.utils import timezone

    from integrations.models import Message, OrganizationIntegration

    integration = make_integration(organization=organization, display_name="Principal", config={"label": "p"})
    OrganizationIntegration.objects.filter(pk=integration.pk).update(health_status="healthy",
                                                                     health_checked_at=timezone.now())
    Message.objects.create(organization=organization, integration=integration, to="+5511999990000",
                           status="delivered", cost=Decimal("1234.5"), currency="USD", latency_ms=120)
    url = reverse("provider_admin:integration", args=[integration.pk])
    html = portuguese_admin.get(url).content.decode()
    assert_portuguese(html, shows=["Voltar aos provedores", "Status do provedor", "Ativa", "Principal",
                                   "Saudável · verificada agora mesmo", "Uso neste mês", "Mensagens", "Custo",
                                   "US$\xa01.234,50", "Taxa de sucesso", "100,0 %", "Configurações avançadas",
                                   "Ativar confirmações de entrega", "Salvar alterações", "Testar conexão",
                                   "Chave de API", "Qualquer valor; mostrado mascarado"],
                      sources=DETAIL + ("integrations/provider_words.py",))
    assert 'data-copied-label="Copiado"' in html

    response = portuguese_admin.post(url + "settings/", {"delivery_receipts": "on"}, follow=True)
    assert "Configurações salvas." in response.content.decode()
    response = portuguese_admin.post(url + "test/", follow=True)
    assert "Teste de conexão: Saudável (" in response.content.decode()

    status = portuguese_admin.get(reverse("provider_admin:status")).json()
    (row,) = status["integrations"]
    assert row["status"]["label"] == "Ativa" and row["health_text"] == "Saudável · verificada agora mesmo"


@pytest.mark.django_db
def test_the_whatsapp_web_pairing_panel_and_its_states_are_portuguese(portuguese_admin, organization):
    from tests.providers.loopback import LoopbackServer, Reply

    key = "waha-I18N-key-123456"
    with LoopbackServer(authorize=lambda r: r.header("X-Api-Key") == key) as bridge:
        bridge.route("GET", "/api/sessions/default", Reply(json={"name": "default", "status": "SCAN_QR_CODE"}))
        bridge.route("GET", "/api/default/auth/qr", Reply(json={"mimetype": "image/png", "data": "iVBORw0KGgo="}))
        integration = make_integration(organization=organization, provider_name="whatsapp_web",
                                       config={"base_url": bridge.url}, credentials={"api_key": key})
        html = portuguese_admin.get(reverse("provider_admin:integration", args=[integration.pk])).content.decode()
        assert_portuguese(html, shows=["Parear a ponte do WhatsApp Web", "Consultando a ponte sobre o estado da sessão…",
                                       "QR code para escanear com o WhatsApp", "Iniciar sessão"],
                          sources=("templates/integrations/_pairing_qr.html",))
        assert 'data-unreachable="Não foi possível falar com o Switchboard; tentando de novo."' in html

        pairing = reverse("integration_pairing", kwargs={"integration_id": integration.pk})
        state = portuguese_admin.get(pairing).json()
        assert state["detail"] == "Abra o WhatsApp no celular, vá em Aparelhos conectados e escaneie este código."
        bridge.route("GET", "/api/sessions/default", Reply(json={"name": "default", "status": "STOPPED"}))
        assert portuguese_admin.get(pairing).json()["detail"] == "A sessão da ponte está em STOPPED."


@pytest.mark.django_db
def test_the_audit_trail_list_is_portuguese(portuguese_admin, organization):
    make_integration(organization=organization, display_name="Principal", config={"label": "p"})  # audited
    html = portuguese_admin.get(reverse("admin:audit_auditevent_changelist")).content.decode()
    text = visible_text(html)
    for portuguese in ("Auditoria", "eventos de auditoria", "Quando", "Organização", "Autor", "Ação", "Alvo",
                       "Resultado", "Sucesso", "Por ação", "Por resultado"):
        assert portuguese in text, portuguese
    assert not re.search(r"\b(Created at|Target repr|Outcome|Success)\b", text)
    assert "Integrações" in visible_text(portuguese_admin.get(reverse("admin:index")).content.decode())


@pytest.mark.django_db
def test_the_dashboard_is_portuguese(portuguese_admin, organization):
    from decimal import Decimal

    from integrations.models import Message

    integration = make_integration(organization=organization, display_name="Principal", config={"label": "p"})
    for _ in range(2):
        Message.objects.create(organization=organization, integration=integration, to="+5511999990000",
                               status="delivered", cost=Decimal("617.25"), currency="USD", latency_ms=120)
    html = portuguese_admin.get(reverse("provider_admin:dashboard")).content.decode()
    assert_portuguese(html, shows=["O status se atualiza sozinho", "Provedores de WhatsApp", "Provedores de VoIP",
                                   "Trocar", "Nenhum provedor de VoIP ainda. Use Trocar para configurar um.",
                                   "Uso neste mês", "Mensagens de WhatsApp", "US$\xa01.234,50", "Chamadas",
                                   "nenhuma chamada", "Histórico de migrações", "Análise de custos", "Principal",
                                   "Ativa"],
                      sources=NAVIGATION + ("templates/admin/providers/dashboard.html",
                                            "templates/admin/providers/_card.html", "integrations/views/dashboard.py",
                                            "integrations/views/presenters.py"))
    assert 'aria-label="Trocar o provedor de WhatsApp de Acme"' in html

    migration_start(organization=organization, channel="whatsapp", provider_name="sandbox_whatsapp", actor=None)
    assert "Retomar migração (rascunho)" in portuguese_admin.get(reverse("provider_admin:dashboard")).content.decode()


@pytest.mark.django_db
def test_the_dashboards_service_windows_are_portuguese(portuguese_admin, organization):
    from datetime import timedelta

    from django.utils import timezone

    from integrations.models import ServiceWindow

    now = timezone.now()
    ServiceWindow.objects.create(organization=organization, contact="+5511987650001",
                                 last_inbound_at=now - timedelta(hours=20, minutes=59))
    closed = ServiceWindow.objects.create(organization=organization, contact="+5511987650002",
                                          last_inbound_at=now - timedelta(hours=26))
    url = reverse("provider_admin:dashboard")
    sources = ("templates/admin/providers/_windows.html", "integrations/forms.py")
    html = portuguese_admin.get(url).content.decode()
    assert_portuguese(html, shows=["Janelas de atendimento de 24 horas", "1 contato com a janela aberta agora",
                                   "aberta por mais", "fechada", "A janela deste contato está aberta?", "Verificar"],
                      sources=sources)
    # the time in words, the full date (day first, as Brazil writes it) on hover
    assert re.search(r'aberta por mais <time datetime="[^"]+" title="\d\d/\d\d/\d{4} [^"]+">3\xa0horas</time>', html)
    assert re.search(r'fechada <time datetime="[^"]+" title="\d\d/\d\d/\d{4} [^"]+">há 2\xa0horas</time>', html)
    expires = localtime(closed.expires_at).strftime("%d/%m/%Y")
    html = portuguese_admin.get(url, {"window_org": "acme", "contact": "+5511987650002"}).content.decode()
    assert_portuguese(html, shows=[f"Fechada desde {expires}",
                                   "só um modelo aprovado pode iniciar a conversa com +5511987650002."],
                      sources=sources)
    html = portuguese_admin.get(url, {"window_org": "acme", "contact": "+5511987650001"}).content.decode()
    assert "Aberta até " in html and "texto livre chega a +5511987650001." in html
    html = portuguese_admin.get(url, {"window_org": "acme", "contact": "123"}).content.decode()
    assert_portuguese(html, shows=["Este não é um número de telefone válido."], sources=sources)


WIZARD = NAVIGATION + ("templates/admin/providers/wizard.html", "templates/admin/providers/_steps.html",
                       "integrations/views/wizard.py")


@pytest.mark.django_db
def test_the_wizards_first_step_is_portuguese(portuguese_admin, organization):
    make_integration(organization=organization, display_name="Principal", config={"label": "p"})
    html = portuguese_admin.get(reverse("provider_admin:migrate", args=[organization.slug, "whatsapp"])).content.decode()
    assert_portuguese(html, shows=["Migrar o provedor de WhatsApp — Acme", "Migrar WhatsApp", "Etapa 1 de 5",
                                   "Provedor", "Configurar", "Confirmar", "Principal atual:",
                                   "Escolha o novo provedor de WhatsApp", "provedor atual", "Próximo passo", "Cancelar",
                                   "WhatsApp Business Platform oficial, hospedada pela Meta."],
                      sources=WIZARD + ("integrations/provider_words.py",))
    assert 'aria-label="Etapas da migração"' in html


COSTS = NAVIGATION + ("templates/admin/providers/costs.html", "integrations/views/costs.py",
                      "integrations/views/charts.py", "integrations/services/costs/options.py")


@pytest.mark.django_db
def test_the_cost_page_is_portuguese(portuguese_admin, organization):
    from tests.integrations.analytics_fixtures import current_month_traffic, register_test_providers

    register_test_providers()
    a = make_integration(organization=organization, provider_name="test_wa_official", display_name="Official A")
    b = make_integration(organization=organization, provider_name="test_wa_unofficial", display_name="Cheap B")
    current_month_traffic(organization, a, b, marketing=10, uncategorised=20)
    page = "/admin/providers/costs/"

    def get(**query) -> str:
        return portuguese_admin.get(page, query).content.decode()

    html = get()
    assert_portuguese(html, shows=["Análise e otimização de custos", "Escolha a organização e o período", "Meses",
                                   "Baixar CSV", "Comparação mensal", "Configuração atual", "/mês", "mensagens",
                                   "Recomendações", "Tendência (últimos 6 meses)", "Tabela mensal", "Mês",
                                   "Unidades", "Confiabilidade dos provedores", "Calculadora", "Utilidade %",
                                   "Volume mensal (mensagens ou minutos)", "Como estes números são calculados",
                                   "Volume e custo de WhatsApp por provedor, mês a mês", "Custo (USD)"],
                      sources=COSTS + ("integrations/services/costs/recommendations.py",))
    assert re.search(r"US\$\xa0\d+,\d\d/mês", html)  # money in the reader's way
    assert "Cheap B não é oficial e levou 66,67 % do tráfego" in html
    assert "(catálogo)" in html and "preço de catálogo" in html and "configurada" in html
    assert "Levou 20 mensagens de 30 mensagens neste período (alerta acima de 25,00 %)" in html

    html = get(calc_channel="whatsapp", calc_volume="1000", mix_marketing="50", mix_service="50")
    assert_portuguese(html, shows=["Estimativa para 1.000 mensagens por mês", "Ponto de equilíbrio com o seu principal, Official A",
                                   "Este é o seu principal."], sources=COSTS)


@pytest.mark.django_db
def test_the_admins_models_and_their_lists_are_portuguese(portuguese_admin, organization):
    make_integration(organization=organization, display_name="Principal", config={"label": "p"})
    index = visible_text(portuguese_admin.get(reverse("admin:index")).content.decode())
    for portuguese in ("Organizações", "Integrações das organizações", "Vínculos", "Eventos de auditoria", "Chamadas"):
        assert portuguese in index, portuguese
    assert not re.search(r"\b(Organizations|Organization integrations|Memberships)\b", index)

    integrations = visible_text(portuguese_admin.get(
        reverse("admin:integrations_organizationintegration_changelist")).content.decode())
    for portuguese in ("Nome de exibição", "Organização", "Canal", "Nome do provedor", "Prioridade", "Por canal"):
        assert portuguese in integrations, portuguese
    organizations = visible_text(portuguese_admin.get(reverse("admin:integrations_organization_changelist")).content.decode())
    for portuguese in ("Nome", "Slug", "Failover automático", "Criado em"):
        assert portuguese in organizations, portuguese


ADMIN = ("integrations/admin/integrations.py", "integrations/admin/organizations.py", "integrations/admin/scoping.py",
         "templates/admin/integrations/choose_provider.html", "templates/admin/integrations/integration_form.html")


@pytest.mark.django_db
def test_the_integration_admin_pages_are_portuguese(portuguese_admin, organization):
    integration = make_integration(organization=organization, display_name="Principal", config={"label": "p"},
                                   credentials={"api_key": "sk-i18n-0123456789"})
    changelist = portuguese_admin.get(reverse("admin:integrations_organizationintegration_changelist")).content.decode()
    assert_portuguese(changelist, shows=["Tornar principal", "Testar conexão", "★ Principal", "Ativa", "Saúde"],
                      sources=ADMIN)
    choose = portuguese_admin.get(reverse("admin:integrations_organizationintegration_add")).content.decode()
    assert_portuguese(choose, shows=["Escolha um provedor", "Escolha o provedor que esta integração conecta",
                                     "Provedor", "Estabilidade", "Preço", "Oficial", "Configurar"], sources=ADMIN)
    change = portuguese_admin.get(
        reverse("admin:integrations_organizationintegration_change", args=[integration.pk])).content.decode()
    assert_portuguese(change, shows=["Alterar integração", "status:", "saúde:", "URL do webhook:", "Prioridade",
                                     "Ordem de reserva: a maior vem primeiro.", "Nome",
                                     "Deixe em branco para mantê-la."], sources=ADMIN + ("integrations/forms.py",))
    assert 'value="Salvar"' in change


@pytest.mark.django_db
def test_a_migrations_page_is_portuguese(portuguese_admin, organization):
    make_integration(organization=organization, display_name="Principal", config={"label": "p"})
    migration = migration_start(organization=organization, channel="whatsapp", provider_name="sandbox_whatsapp",
                                actor=None)
    url = reverse("provider_admin:migration", args=[organization.slug, "whatsapp", migration.pk])
    html = portuguese_admin.get(url).content.decode()
    assert_portuguese(html, shows=["Migrações de Acme", "Migração de WhatsApp", "Migração rascunho", "De Principal para",
                                   "Estado: Rascunho", "Progresso", "Trilha de auditoria", "Quando", "Autor",
                                   "Voltar aos provedores"],
                      sources=("templates/admin/providers/migration.html",))
    assert 'data-label="Quando"' in html


@pytest.mark.django_db
def test_the_other_admin_lists_name_their_columns_and_filters_in_portuguese(portuguese_admin, organization):
    pages = {
        "admin:integrations_membership_changelist": ("Criado em", "Por papel"),
        "admin:integrations_messagetemplate_changelist": ("Por categoria", "Utilidade", "Autenticação", "Por idioma"),
        "admin:integrations_servicewindow_changelist": ("Por canal",),
        "admin:integrations_conversationevent_changelist": ("Por tipo", "Resposta", "Reação", "Aviso do sistema"),
    }
    for name, shows in pages.items():
        text = visible_text(portuguese_admin.get(reverse(name)).content.decode())
        for portuguese in shows:
            assert portuguese in text, (name, portuguese)


@pytest.mark.django_db(transaction=True)
def test_the_whole_wizard_and_the_rollback_speak_portuguese(portuguese_admin, organization, eager_celery):
    from tests.conftest import join_eager_threads

    make_integration(organization=organization, display_name="Sandbox A", config={"label": "a"})
    url = reverse("provider_admin:migrate", args=[organization.slug, "whatsapp"])
    sources = WIZARD + ("integrations/provider_words.py", "integrations/forms.py")

    page = portuguese_admin.post(url + "select/", {"provider_name": "sandbox_whatsapp"}, follow=True).content.decode()
    assert_portuguese(page, shows=["Etapa 2 de 5", "Configurar Sandbox WhatsApp", "Salvar e continuar", "Voltar",
                                   "Cancelar migração", "Chave de API"], sources=sources)
    page = portuguese_admin.post(url + "configure/", {
        "display_name": "Sandbox B", "cfg__api_key": "sk_b_0123456789", "cfg__label": "b", "cfg__health": "healthy",
        "cfg__failure_mode": "unavailable"}, follow=True).content.decode()
    assert_portuguese(page, shows=["Etapa 3 de 5", "Testar a conexão", "Testar conexão"], sources=sources)
    page = portuguese_admin.post(url + "test/", follow=True).content.decode()
    assert_portuguese(page, shows=["Etapa 4 de 5", "O teste de conexão passou", "Pronto para migrar",
                                   "Trocar a principal de WhatsApp de", "Enviar mensagem de teste"], sources=sources)

    response = portuguese_admin.post(url + "execute/")
    join_eager_threads()
    page = portuguese_admin.get(response["Location"]).content.decode()
    assert_portuguese(page, shows=["Migração concluída", "Etapa 5 de 5", "Sandbox B agora é a principal de WhatsApp.",
                                   "Próximos passos", "Reverter para Sandbox A"],
                      sources=("templates/admin/providers/migration.html",))
    page = portuguese_admin.post(response["Location"] + "rollback/", {"reason": "teste"}, follow=True).content.decode()
    assert "Revertida: o provedor anterior voltou a ser o principal." in page
    assert "Sandbox A voltou a ser a principal." in page


def test_price_labels_say_in_english_what_the_price_models_say_and_in_portuguese_their_own_way():
    from django.utils import translation

    from integrations.services.costs.price_words import price_model_label
    from providers.catalog import CATALOG

    models = [*CATALOG.values(), *(p.pricing for p in get_registry().all())]
    with translation.override("en"):
        for model in models:
            assert price_model_label(model) == model.label()
    with translation.override("pt-br"):
        labels = [price_model_label(model) for model in models]
    assert all("message" not in label and "month" not in label and "Free" not in label for label in labels), labels
    assert any(re.search(r"US\$\xa0\d+,\d+(–\d+,\d+)?/mensagem", label) for label in labels), labels
    assert any("/min (cobrança" in label for label in labels), labels
