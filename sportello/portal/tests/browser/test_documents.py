"""The printable invoice page in a real Chromium: axe-core at desktop and phone widths, and
the "Download PDF" link giving the stored PDF, whose text (pypdf) holds the number and total."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest

pytest.importorskip("playwright.sync_api", reason="BROWSER TESTS NOT RUN: playwright is not installed")

from playwright.sync_api import Page, expect
from pypdf import PdfReader

from sportello.accounts.models import User
from sportello.billing.models import Invoice, TaxCategory
from sportello.billing.selectors import seller_current
from sportello.billing.services import NewLine, invoice_create, invoice_issue
from sportello.billing.taxes import TaxDecision
from sportello.portal.tests.browser.helpers import ANA, login_over_http, set_user_language
from sportello.portal.tests.browser.test_services_accessibility import PHONE, violations_of

VAT = TaxDecision(
    rate=Decimal(21), category=TaxCategory.STANDARD, name="IVA 21%", reverse_charge=False, exemption_text=""
)


def ana_invoice() -> Invoice:
    seller = seller_current()
    seller.iban, seller.bic = "ES9121000418450200051332", "CAIXESBBXXX"
    seller.save()
    account = User.objects.get(email=ANA).memberships.get(account__name__startswith="Nubeclara").account
    draft = invoice_create(
        account=account,
        currency="EUR",
        lines=[
            NewLine(description="Hosting Pro", quantity=Decimal(1), unit_price=Decimal("200.00"), tax=VAT),
            NewLine(description="Backup storage", quantity=Decimal(50), unit_price=Decimal("2.50"), tax=VAT),
        ],
        as_of=dt.date(2026, 3, 2),
    )
    invoice_issue(invoice=draft, as_of=dt.date(2026, 3, 2))
    return Invoice.objects.get(pk=draft.pk)


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_printable_invoice_has_no_axe_violations(page: Page, live_server, demo_data, language: str) -> None:
    invoice = ana_invoice()
    set_user_language(ANA, language)
    login_over_http(page, live_server, ANA)
    response = page.goto(f"{live_server.url}/billing/invoices/{invoice.number}/print/")
    assert response is not None and response.status == 200
    expect(page.locator("main h1")).to_be_visible()
    expect(page.locator("button[data-print]")).to_be_visible()  # shown by documents.js
    problems = violations_of(page, f"invoice print [{language}, 1280px]")
    page.set_viewport_size(PHONE)
    width = page.evaluate("document.documentElement.scrollWidth")
    if width > PHONE["width"]:
        problems.append(f"invoice print [360px]: the page scrolls sideways ({width}px wide)")
    problems += violations_of(page, f"invoice print [{language}, 360px]")
    assert not problems, "\n".join(problems)


def test_the_pdf_downloaded_from_the_printable_page_holds_the_number_and_total(
    page: Page, live_server, demo_data
) -> None:
    invoice = ana_invoice()
    set_user_language(ANA, "en")
    login_over_http(page, live_server, ANA)
    page.goto(f"{live_server.url}/billing/invoices/{invoice.number}/print/")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download PDF").click()
    download = download_info.value
    assert download.suggested_filename == f"{invoice.number}.pdf"
    data = open(download.path(), "rb").read()  # noqa: SIM115
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages).replace("\xa0", " ")
    assert invoice.number in text
    assert invoice.total_minor == 39325
    assert "393,25 €" in text  # the invoice is in the account's language, Spanish
