"""The demo's helpdesk: a finance request about one of the demo invoices (with a file), a sales
request about one of the demo orders, loaded once; requests in every status across the
departments, articles in four languages, dated news and a shared file per account."""

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import translation

from sportello.accounts.models import User
from sportello.demo.data import demo_load
from sportello.demo.support_data import BRUNO, FERRI, NUBECLARA
from sportello.support.models import Attachment, KnowledgeArticle, RelatedKind, SharedFile, Ticket, TicketStatus
from sportello.support.selectors import article_in_language

AS_OF = dt.date(2026, 3, 10)


@pytest.mark.django_db
def test_a_demo_finance_request_is_about_a_demo_invoice_and_a_second_load_adds_none(settings):
    settings.SPORTELLO_DEMO = True
    demo_load(as_of=AS_OF)
    ticket = Ticket.objects.select_related("related_invoice", "department").get(subject="Factura duplicada en marzo")
    invoice = ticket.related_invoice
    assert (ticket.related_kind, ticket.department.slug) == (RelatedKind.INVOICE, "finance")
    assert invoice is not None and invoice.account_id == ticket.account_id
    assert invoice.lines.order_by("position").first().description == (
        "Web Hosting Basic, monthly — nubeclara.example.com"
    )
    assert (invoice.kind, invoice.status, invoice.total_minor) == ("invoice", "paid", 967)
    assert Ticket.objects.filter(related_kind=RelatedKind.INVOICE).count() == 1
    assert Ticket.objects.filter(related_kind=RelatedKind.SERVICE).count() == 4
    about_order = Ticket.objects.select_related("related_order").get(related_kind=RelatedKind.ORDER)
    assert (about_order.account.name, about_order.department.slug, about_order.requester.email) == (
        "Nubeclara Servicios Digitales S.L.",
        "sales",
        "ana@example.com",
    )
    assert about_order.related_order.account_id == about_order.account_id
    assert about_order.related_order.status == "awaiting_payment"
    assert about_order.related_order.lines.filter(service__label="nuevo.nubeclara.example.com").exists()

    assert demo_load(as_of=AS_OF + dt.timedelta(days=1))["support_requests"] == 0
    assert Ticket.objects.filter(subject="Factura duplicada en marzo").get().related_invoice == invoice
    assert Ticket.objects.filter(related_kind=RelatedKind.ORDER).get() == about_order


@pytest.fixture
def demo(db, settings):
    settings.SPORTELLO_DEMO = True
    demo_load(as_of=AS_OF)


# Each test loads the whole demo (slow): what one load shows is checked together. The news
# are dated from AS_OF, in the past of any day the tests run on, and shown until withdrawn.


def test_demo_requests_in_every_status_a_file_and_a_shared_file_per_account(demo, client):
    by_department: dict[str, set[str]] = {}
    for slug, status in Ticket.objects.values_list("department__slug", "status"):
        by_department.setdefault(slug, set()).add(status)
    assert by_department == {
        "finance": {"open", "on_hold", "closed"},
        "technical": {"open", "answered", "customer_reply"},
        "sales": {"open", "answered", "closed"},
    }
    assert set().union(*by_department.values()) == set(TicketStatus.values)
    assert set(Ticket.objects.values_list("account__name", flat=True)) == {NUBECLARA, FERRI, BRUNO}
    assert sorted(SharedFile.objects.values_list("account__name", "filename")) == [
        (BRUNO, "nfse-marco.pdf"),
        (NUBECLARA, "contrato-servicios-2025.pdf"),
        (FERRI, "report-sicurezza.pdf"),
    ]

    ticket = Ticket.objects.get(subject="Factura duplicada en marzo")
    attachment = Attachment.objects.get(ticket=ticket)
    assert (attachment.filename, attachment.content_type, attachment.message.author.email) == (
        "extracto-bancario-marzo.pdf",
        "application/pdf",
        "lucia@example.com",
    )
    client.force_login(User.objects.get(email="lucia@example.com"))
    page = client.get(reverse("portal:support-request", args=[ticket.public_id])).content.decode()
    assert "extracto-bancario-marzo.pdf" in page
    download = client.get(reverse("portal:support-attachment", args=[attachment.public_id]))
    assert download.status_code == 200
    assert download["Content-Disposition"] == 'attachment; filename="extracto-bancario-marzo.pdf"'
    assert b"".join(download.streaming_content).startswith(b"%PDF-1.4\n")


def test_demo_articles_speak_four_languages_and_fall_back_to_english(demo):
    for article in KnowledgeArticle.objects.exclude(slug="wordpress-updates"):
        assert sorted(article.translations.values_list("language", flat=True)) == ["en", "es", "it", "pt-br"]
    titles = {
        "en": "How to pay an invoice",
        "es": "Cómo pagar una factura",
        "pt-br": "Como pagar uma fatura",
        "it": "Come pagare una fattura",
    }
    for language, title in titles.items():
        with translation.override(language):
            text = article_in_language(slug="pay-an-invoice")
            untranslated = article_in_language(slug="wordpress-updates")
            assert text is not None and untranslated is not None
            assert (text.title, text.language, text.is_fallback) == (title, language, False)
            assert (untranslated.title, untranslated.language, untranslated.is_fallback) == (
                "WordPress updates",
                "en",
                language != "en",
            )


NEWS_AND_FILES = {
    "chiara@example.com": (
        [("Manutenzione programmata domenica", "28 feb 2026"), ("Novità: autenticazione a due fattori", "8 feb 2026")],
        ["Report di sicurezza trimestrale"],
    ),
    "bruno@example.com": (
        [
            ("Manutenção programada no domingo", "28 de fev. de 2026"),
            ("Novidade: autenticação em dois fatores", "8 de fev. de 2026"),
        ],
        ["Nota fiscal de serviço (NFS-e)"],
    ),
    "lucia@example.com": (
        [("Mantenimiento programado el domingo", "28 feb 2026"), ("Novedad: verificación en dos pasos", "8 feb 2026")],
        ["Contrato de servicios 2025"],
    ),
}


def test_the_dashboard_shows_dated_news_and_the_accounts_shared_file(demo, client):
    for email, (news, shared) in NEWS_AND_FILES.items():
        client.force_login(User.objects.get(email=email))
        page = client.get(reverse("portal:dashboard")).content.decode()
        assert re.findall(r'<h3 id="news-\d+">([^<]*)</h3><p class="muted">([^<]*)</p>', page) == news, email
        assert re.findall(r'<a href="/support/shared/[a-z0-9]+/" download>([^<]*)</a>', page) == shared, email


# The names of menus and tabs that articles send readers to, in **bold**.
MENU_NAMES = ("Dashboard", "Billing", "Services", "Orders", "Domains", "Support", "Account", "Security")


def test_demo_articles_name_menus_with_the_menus_own_words():
    from sportello.demo.support_data import ARTICLES

    for slug, _category, _products, texts in ARTICLES:
        for language, (_title, body) in texts.items():
            with translation.override(language):
                menu = {translation.gettext(name) for name in MENU_NAMES}
            named = set(re.findall(r"\*\*([^*]+)\*\*", body))
            assert named <= menu, (slug, language, named - menu)


@pytest.mark.django_db
def test_a_reader_of_the_demo_finds_the_password_article_by_typing_senha(client, settings):
    settings.SPORTELLO_DEMO = True
    demo_load(as_of=AS_OF)
    client.force_login(User.objects.get(email="bruno@example.com"))
    page = client.get(reverse("portal:support-kb"), {"q": "senha"}).content.decode()
    assert re.findall(r'<a href="/support/help/([^"]+)/"[^>]*>([^<]+)</a>', page) == [
        ("change-your-password", "Alterar a senha")
    ]
