"""The demo's helpdesk: a finance request about one of the demo invoices, a sales request about
one of the demo orders, loaded once."""

import datetime as dt

import pytest

from sportello.demo.data import demo_load
from sportello.support.models import RelatedKind, Ticket

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
