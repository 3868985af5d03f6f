"""Billing documents: invoices, credit notes and quotes, their numbering, taxes and settlement.

Rules held here (DESIGN.md, "Money" and "Documents"):
- Amounts are integer minor units plus the document's ISO 4217 currency; unit prices and
  quantities are Decimals. Figures are computed once, by `billing.calc`, through
  `core.money.round_money` (half-up per line; tax per rate on the document).
- A document is a draft until issued. Issuing assigns the next number of its series and
  year by locking that counter row (`DocumentCounter`), so numbers are gapless and unique
  also under concurrent issuing, and freezes the document: lines, parties as printed,
  totals. Corrections are credit notes, which never exceed what they correct.
- What an invoice has received is the sum of its append-only `Settlement` rows (payments,
  credit, credit notes); the status follows from it and is never set by hand.
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from sportello.core.models import AppendOnlyModel, TimestampedModel
from sportello.core.tenancy import AccountOwnedQuerySet
from sportello.services.models import AccountOwnedAppendOnlyManager

# --- The seller -----------------------------------------------------------------------------


class Seller(TimestampedModel):
    """The provider as it appears on its documents: one row, edited by staff in the back
    office; every issued document keeps a copy of it as it was (`Invoice.seller`)."""

    name = models.CharField(_("legal name"), max_length=200)
    address_line1 = models.CharField(_("address"), max_length=200, blank=True)
    address_line2 = models.CharField(_("address (line 2)"), max_length=200, blank=True)
    postal_code = models.CharField(_("postal code"), max_length=20, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    region = models.CharField(_("region or province"), max_length=100, blank=True)
    country = models.CharField(_("country"), max_length=2, help_text=_("ISO 3166 code, e.g. ES, IT, BR."))
    vat_id = models.CharField(_("VAT number"), max_length=20, blank=True)
    tax_id = models.CharField(_("tax id"), max_length=32, blank=True)
    email = models.EmailField(_("billing email"), blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    website = models.CharField(_("website"), max_length=200, blank=True)
    # Printed in the payment section of documents in EUR (with the EPC QR code).
    bank_name = models.CharField(_("bank"), max_length=100, blank=True)
    iban = models.CharField(_("IBAN"), max_length=34, blank=True)
    bic = models.CharField(_("BIC"), max_length=11, blank=True)
    # Printed in the payment section of documents in BRL (PIX copy-and-paste code and QR).
    pix_key = models.CharField(_("PIX key"), max_length=77, blank=True)
    pix_city = models.CharField(_("PIX merchant city"), max_length=15, blank=True)
    # Free text at the foot of every document: registration, share capital, court...
    footer = models.TextField(_("document footer"), blank=True)
    # A PNG or JPEG printed at the top of documents; stored under the data directory.
    logo = models.FileField(_("logo"), upload_to="seller/", blank=True)

    class Meta:
        verbose_name = _("seller details")
        verbose_name_plural = _("seller details")

    def __str__(self) -> str:
        return self.name

    @property
    def address_lines(self) -> list[str]:
        city = " ".join(part for part in (self.postal_code, self.city) if part)
        if self.region:
            city = f"{city} ({self.region})" if city else self.region
        return [line for line in (self.address_line1, self.address_line2, city) if line]


# --- Taxes ----------------------------------------------------------------------------------


class TaxCategory(models.TextChoices):
    """EN 16931 VAT category codes (UNTDID 5305), printed and exported as such."""

    STANDARD = "S", _("Standard rate")
    ZERO = "Z", _("Zero rated")
    EXEMPT = "E", _("Exempt from tax")
    REVERSE_CHARGE = "AE", _("Reverse charge")
    INTRA_EU = "K", _("Intra-community supply")
    OUTSIDE_SCOPE = "O", _("Not subject to VAT")


class TaxRate(models.Model):
    """The rate of one tax class in one country (or region), valid between two dates.

    A change of rate is a new row with a later `valid_from`; the row that was in force on
    a document's date is the one that applies, so old documents and re-runs do not move.
    """

    country = models.CharField(_("country"), max_length=2)
    # Empty: the whole country. A region code (e.g. "IC" for the Canary Islands) overrides it.
    region = models.CharField(_("region"), max_length=16, blank=True)
    # Matches `catalog.Product.tax_class`: "standard", "reduced", "exempt"...
    tax_class = models.CharField(_("tax class"), max_length=32, default="standard")
    name = models.CharField(_("name"), max_length=100, help_text=_("Printed on documents, e.g. IVA 21%."))
    rate = models.DecimalField(_("rate (%)"), max_digits=7, decimal_places=4)
    category = models.CharField(_("category"), max_length=2, choices=TaxCategory.choices, default=TaxCategory.STANDARD)
    # For exempt categories: the legal reference printed on the document.
    exemption_text = models.CharField(_("exemption wording"), max_length=300, blank=True)
    valid_from = models.DateField(_("valid from"))
    # Exclusive; empty while in force.
    valid_until = models.DateField(_("valid until"), null=True, blank=True)

    class Meta:
        verbose_name = _("tax rate")
        verbose_name_plural = _("tax rates")
        ordering = ["country", "region", "tax_class", "-valid_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["country", "region", "tax_class", "valid_from"], name="tax_rate_unique_start"
            ),
            models.CheckConstraint(condition=models.Q(rate__gte=0, rate__lt=100), name="tax_rate_in_range"),
            models.CheckConstraint(
                condition=models.Q(valid_until__isnull=True) | models.Q(valid_until__gt=models.F("valid_from")),
                name="tax_rate_period_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.country}{'-' + self.region if self.region else ''}, {self.tax_class})"


# --- Per-account billing preferences --------------------------------------------------------


class BillingPreference(TimestampedModel):
    """How an account likes to be billed. An account without a row has the defaults."""

    account = models.OneToOneField(
        "accounts.Account", on_delete=models.PROTECT, related_name="billing_preference", verbose_name=_("account")
    )
    # One renewal invoice per due date for all services, rather than one per service.
    group_renewals = models.BooleanField(_("one invoice per due date"), default=True)
    # Printed on every invoice when the customer's accounts payable need it.
    purchase_order = models.CharField(_("purchase order reference"), max_length=100, blank=True)
    # Staff may exempt an account from late fees (e.g. public bodies with legal payment terms).
    late_fees_exempt = models.BooleanField(_("no late fees"), default=False)

    class Meta:
        verbose_name = _("billing preference")
        verbose_name_plural = _("billing preferences")

    def __str__(self) -> str:
        return str(self.account)


# --- Numbering ------------------------------------------------------------------------------


class DocumentKind(models.TextChoices):
    INVOICE = "invoice", _("Invoice")
    CREDIT_NOTE = "credit_note", _("Credit note")
    # The payment request issued before the fiscal invoice when numbering is at payment.
    PROFORMA = "proforma", _("Payment request")
    QUOTE = "quote", _("Quote")


class DocumentCounter(models.Model):
    """The last number given in one series and year. Locked by whoever issues, so the next
    number is taken inside the issuing transaction: if it rolls back, so does the number."""

    series = models.CharField(_("series"), max_length=16)
    year = models.PositiveSmallIntegerField(_("year"))
    last_sequence = models.PositiveIntegerField(_("last number"), default=0)

    class Meta:
        verbose_name = _("document counter")
        verbose_name_plural = _("document counters")
        constraints = [models.UniqueConstraint(fields=["series", "year"], name="document_counter_unique")]

    def __str__(self) -> str:
        return f"{self.series} {self.year}: {self.last_sequence}"


# --- Invoices and credit notes --------------------------------------------------------------


class InvoiceStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    OPEN = "open", _("Unpaid")
    PARTIALLY_PAID = "partially_paid", _("Partially paid")
    OVERDUE = "overdue", _("Overdue")
    PAID = "paid", _("Paid")
    CANCELLED = "cancelled", _("Cancelled")
    REFUNDED = "refunded", _("Refunded")
    COLLECTIONS = "collections", _("In collections")


class InvoiceTransition(models.TextChoices):
    ISSUE = "issue", _("Issued")
    SETTLE = "settle", _("Payment received")
    OVERDUE = "overdue", _("Became overdue")
    CANCEL = "cancel", _("Cancelled")
    REFUND = "refund", _("Refunded")
    COLLECTIONS = "collections", _("Sent to collections")
    FISCAL_NUMBER = "fiscal_number", _("Fiscal number assigned")
    REMIND = "remind", _("Reminder sent")


IS = InvoiceStatus
# Statuses a document may still receive money in.
PAYABLE_STATUSES = frozenset({IS.OPEN, IS.PARTIALLY_PAID, IS.OVERDUE, IS.COLLECTIONS})
# transition -> statuses it may start from. Settlement decides its own target (partially paid or paid).
INVOICE_TRANSITIONS: dict[str, frozenset[str]] = {
    InvoiceTransition.ISSUE: frozenset({IS.DRAFT}),
    InvoiceTransition.SETTLE: PAYABLE_STATUSES,
    InvoiceTransition.OVERDUE: frozenset({IS.OPEN, IS.PARTIALLY_PAID}),
    InvoiceTransition.CANCEL: frozenset({IS.DRAFT, IS.OPEN, IS.PARTIALLY_PAID, IS.OVERDUE, IS.COLLECTIONS}),
    # Money given back: a paid invoice is corrected (refunded once all is credited), one still
    # owed takes the payment back (billing.refunds).
    InvoiceTransition.REFUND: frozenset({IS.PAID, IS.REFUNDED}) | PAYABLE_STATUSES,
    InvoiceTransition.COLLECTIONS: frozenset({IS.OVERDUE}),
    InvoiceTransition.FISCAL_NUMBER: frozenset({IS.PAID}),
    InvoiceTransition.REMIND: PAYABLE_STATUSES,
}


class InvoiceSource(models.TextChoices):
    MANUAL = "manual", _("Entered by staff")
    RENEWAL = "renewal", _("Renewal")
    ORDER = "order", _("Order")
    LATE_FEE = "late_fee", _("Late fee")
    FUNDS = "funds", _("Added funds")
    QUOTE = "quote", _("Accepted quote")


class InvoiceQuerySet(AccountOwnedQuerySet):
    def issued(self) -> InvoiceQuerySet:
        """Documents that were issued: neither drafts nor drafts cancelled before issue
        (which never had a number or an issue date, and never existed for the customer)."""
        return self.exclude(status=InvoiceStatus.DRAFT).filter(issue_date__isnull=False)


class Invoice(TimestampedModel):
    """An invoice or a credit note (`kind`), from draft to settled."""

    account = models.ForeignKey(
        "accounts.Account", on_delete=models.PROTECT, related_name="invoices", verbose_name=_("account")
    )
    kind = models.CharField(_("type"), max_length=16, choices=DocumentKind.choices, default=DocumentKind.INVOICE)
    status = models.CharField(_("status"), max_length=16, choices=InvoiceStatus.choices, default=InvoiceStatus.DRAFT)
    source = models.CharField(_("source"), max_length=16, choices=InvoiceSource.choices, default=InvoiceSource.MANUAL)
    currency = models.CharField(_("currency"), max_length=3)
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES, default="en")
    # Whether unit prices were entered with tax included; totals are computed accordingly.
    prices_include_tax = models.BooleanField(_("prices include tax"), default=False)

    # The fiscal number: series, year and sequence, and the formatted number printed.
    # Empty until issued (or, with numbering at payment, until paid).
    series = models.CharField(_("series"), max_length=16, blank=True)
    year = models.PositiveSmallIntegerField(_("year"), null=True, blank=True)
    sequence = models.PositiveIntegerField(_("sequence"), null=True, blank=True)
    number = models.CharField(_("number"), max_length=40, blank=True)
    # With numbering at payment: the payment request's own number, printed until then.
    proforma_number = models.CharField(_("payment request number"), max_length=40, blank=True)

    issue_date = models.DateField(_("issue date"), null=True, blank=True)
    due_date = models.DateField(_("due date"), null=True, blank=True)
    # The day the last payment that settled it was received.
    paid_date = models.DateField(_("settlement date"), null=True, blank=True)
    # Date of supply when it differs from the issue date (art. 226(7)); usually the period start.
    supply_date = models.DateField(_("date of supply"), null=True, blank=True)

    # A credit note corrects exactly one invoice.
    corrects = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="credit_notes",
        verbose_name=_("corrects invoice"),
    )

    # The parties as printed, frozen at issue: name, address lines, country, vat_id, tax_id...
    seller = models.JSONField(_("seller as printed"), default=dict, blank=True)
    buyer = models.JSONField(_("buyer as printed"), default=dict, blank=True)

    # Totals, written by `billing.calc` whenever lines change and frozen at issue.
    net_minor = models.BigIntegerField(_("net total (minor units)"), default=0)
    tax_minor = models.BigIntegerField(_("tax total (minor units)"), default=0)
    total_minor = models.BigIntegerField(_("total (minor units)"), default=0)

    # Printed under the lines: reverse charge and exemption wording, the customer's PO.
    legal_notes = models.TextField(_("legal notes"), blank=True)
    notes = models.TextField(_("notes"), blank=True)
    # The PDF rendered at issue, kept as it was sent (under the data directory).
    pdf = models.FileField(_("PDF"), upload_to="invoices/%Y/", blank=True)
    pdf_sha256 = models.CharField(_("PDF checksum"), max_length=64, blank=True)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )

    objects = InvoiceQuerySet.as_manager()

    class Meta:
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        ordering = ["-issue_date", "-id"]
        indexes = [
            models.Index(fields=["account", "status", "due_date"]),
            models.Index(fields=["status", "due_date"]),
            models.Index(fields=["account", "number"]),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=InvoiceStatus.values), name="invoice_status_known"),
            models.CheckConstraint(
                condition=models.Q(kind__in=[DocumentKind.INVOICE, DocumentKind.CREDIT_NOTE]),
                name="invoice_kind_is_invoice_or_credit_note",
            ),
            # One document per number of a series and year: the gapless sequence's guard.
            models.UniqueConstraint(
                fields=["series", "year", "sequence"],
                condition=models.Q(sequence__isnull=False),
                name="invoice_number_unique_in_series_year",
            ),
            # The printed number, once per document type: BILLING_NUMBER_FORMAT prints the
            # series, year and sequence (settings refuse a format without them), so this only
            # catches a format changed to one that repeats an earlier number. Drafts (and
            # payment requests until paid) have no number yet and are left out.
            models.UniqueConstraint(
                fields=["kind", "number"], condition=~models.Q(number=""), name="invoice_number_unique_per_kind"
            ),
            models.UniqueConstraint(
                fields=["proforma_number"], condition=~models.Q(proforma_number=""), name="invoice_proforma_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(net_minor__gte=0, tax_minor__gte=0, total_minor__gte=0),
                name="invoice_totals_not_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(total_minor=models.F("net_minor") + models.F("tax_minor")),
                name="invoice_total_is_net_plus_tax",
            ),
            models.CheckConstraint(
                condition=models.Q(kind=DocumentKind.CREDIT_NOTE, corrects__isnull=False)
                | models.Q(kind=DocumentKind.INVOICE, corrects__isnull=True),
                name="invoice_credit_note_corrects_one",
            ),
            # Out of draft, a document has an issue date and either a fiscal or a payment-request
            # number; but a draft cancelled before issue stays as it was: no date, no number of
            # any series (so numbering stays gapless: it never took one).
            models.CheckConstraint(
                condition=models.Q(status=InvoiceStatus.DRAFT)
                | models.Q(
                    status=InvoiceStatus.CANCELLED,
                    issue_date__isnull=True,
                    number="",
                    proforma_number="",
                    sequence__isnull=True,
                )
                | (models.Q(issue_date__isnull=False) & (~models.Q(number="") | ~models.Q(proforma_number=""))),
                name="invoice_issued_has_number",
            ),
        ]

    def __str__(self) -> str:
        return self.display_number or f"draft {self.pk}"

    @property
    def display_number(self) -> str:
        """The number printed: the fiscal one, or the payment request's until it has one."""
        return self.number or self.proforma_number

    @property
    def is_credit_note(self) -> bool:
        return self.kind == DocumentKind.CREDIT_NOTE

    @property
    def shown_sign(self) -> int:
        """The one sign convention of the documents shown to people: a credit note reduces what
        the customer owes, so every amount of it (lines, unit prices, discounts, taxes, totals)
        is shown negative, in the invoices list, on its page, its printable page, its PDF and
        its email; an invoice's are shown as they are. Stored amounts stay positive (a credit
        note never exceeds what it corrects): only what is shown carries the sign."""
        return -1 if self.is_credit_note else 1

    @property
    def is_issued(self) -> bool:
        """Issued at some point (whatever its status now); False for a draft, also a cancelled one."""
        return self.status != InvoiceStatus.DRAFT and self.issue_date is not None


class LineKind(models.TextChoices):
    PLAN = "plan", _("Plan")
    OPTION = "option", _("Option")
    ADDON = "addon", _("Add-on")
    SETUP = "setup", _("Setup fee")
    USAGE = "usage", _("Usage")
    PRORATION = "proration", _("Plan change")
    LATE_FEE = "late_fee", _("Late fee")
    FUNDS = "funds", _("Account credit")
    OTHER = "other", _("Other")


class DocumentLine(models.Model):
    """What lines of every document store: enough to print and re-check them without the catalog."""

    position = models.PositiveSmallIntegerField(_("position"), default=0)
    kind = models.CharField(_("type"), max_length=16, choices=LineKind.choices, default=LineKind.OTHER)
    description = models.CharField(_("description"), max_length=500)
    # The period billed, [start, end) with end exclusive; empty for one-off charges.
    period_start = models.DateField(_("period start"), null=True, blank=True)
    period_end = models.DateField(_("period end"), null=True, blank=True)
    quantity = models.DecimalField(_("quantity"), max_digits=18, decimal_places=6)
    # In the document's currency, major units, tax included when the document's prices are.
    unit_price = models.DecimalField(_("unit price"), max_digits=18, decimal_places=6)
    # Taken off quantity x unit price, in minor units.
    discount_minor = models.BigIntegerField(_("discount (minor units)"), default=0)
    # quantity x unit price - discount, rounded once (half-up): tax included when the prices are.
    amount_minor = models.BigIntegerField(_("amount (minor units)"))
    # The line's share of the taxable base, tax excluded, in minor units (equal to the amount
    # for tax-exclusive prices; for inclusive ones, its exact share of its rate's base).
    net_minor = models.BigIntegerField(_("net amount (minor units)"))
    tax_rate = models.DecimalField(_("tax rate (%)"), max_digits=7, decimal_places=4)
    tax_category = models.CharField(_("tax category"), max_length=2, choices=TaxCategory.choices)
    tax_name = models.CharField(_("tax"), max_length=100, blank=True)

    class Meta:
        abstract = True
        ordering = ["position", "id"]


class InvoiceLine(DocumentLine):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines", verbose_name=_("invoice"))
    # The service it bills, if any (renewals, usage, plan changes).
    service = models.ForeignKey(
        "services.Service",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="invoice_lines",
        verbose_name=_("service"),
    )
    # The line of the invoice a credit-note line corrects.
    corrects_line = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("corrects line")
    )

    class Meta(DocumentLine.Meta):
        verbose_name = _("invoice line")
        verbose_name_plural = _("invoice lines")
        constraints = [
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="invoice_line_quantity_positive"),
            models.CheckConstraint(condition=models.Q(unit_price__gte=0), name="invoice_line_price_not_negative"),
            models.CheckConstraint(
                condition=models.Q(discount_minor__gte=0, amount_minor__gte=0, net_minor__gte=0),
                name="invoice_line_amounts_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return self.description


class InvoiceTax(models.Model):
    """The tax summary of a document: one row per (category, rate), computed once on the
    sum of its lines' net amounts (EU practice), never per line."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="taxes", verbose_name=_("invoice"))
    category = models.CharField(_("category"), max_length=2, choices=TaxCategory.choices)
    rate = models.DecimalField(_("rate (%)"), max_digits=7, decimal_places=4)
    name = models.CharField(_("tax"), max_length=100, blank=True)
    taxable_minor = models.BigIntegerField(_("taxable amount (minor units)"))
    tax_minor = models.BigIntegerField(_("tax (minor units)"))
    exemption_text = models.CharField(_("exemption wording"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("tax summary")
        verbose_name_plural = _("tax summaries")
        ordering = ["invoice", "-rate", "category"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "category", "rate"], name="invoice_tax_one_per_rate"),
        ]

    def __str__(self) -> str:
        return f"{self.category} {self.rate}%"


class InvoiceEvent(AppendOnlyModel):
    """One transition of an invoice, written in the transaction that made it."""

    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="+")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="events", verbose_name=_("invoice"))
    transition = models.CharField(_("transition"), max_length=16, choices=InvoiceTransition.choices)
    from_status = models.CharField(_("from"), max_length=16, choices=InvoiceStatus.choices)
    to_status = models.CharField(_("to"), max_length=16, choices=InvoiceStatus.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(_("when"))
    data = models.JSONField(_("details"), default=dict, blank=True)

    objects: ClassVar[AccountOwnedAppendOnlyManager] = AccountOwnedAppendOnlyManager()

    class Meta:
        verbose_name = _("invoice event")
        verbose_name_plural = _("invoice events")
        ordering = ["invoice", "at", "id"]

    def __str__(self) -> str:
        return f"{self.invoice_id} {self.transition}"


class SettlementKind(models.TextChoices):
    PAYMENT = "payment", _("Payment")
    CREDIT = "credit", _("Account credit")
    CREDIT_NOTE = "credit_note", _("Credit note")
    # A payment taken back (chargeback, refund to the card): a negative settlement.
    REVERSAL = "reversal", _("Payment reversed")


class Settlement(AppendOnlyModel):
    """Money applied to an invoice. An invoice's paid amount is the sum of these rows;
    the payments issue writes them from payment events, credit and credit notes."""

    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="+")
    invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, related_name="settlements", verbose_name=_("invoice")
    )
    kind = models.CharField(_("type"), max_length=16, choices=SettlementKind.choices)
    # Positive applies money; a reversal is negative.
    amount_minor = models.BigIntegerField(_("amount (minor units)"))
    # The day the money was received (the settlement date printed in the billing history).
    settled_on = models.DateField(_("date"))
    # How it was paid, as shown to the customer: "Card •••• 4242", "Bank transfer", "PIX".
    method = models.CharField(_("method"), max_length=100, blank=True)
    # The payment, credit entry or credit note it comes from; with `kind`, unique: the same
    # source is never applied twice to one invoice.
    reference = models.CharField(_("reference"), max_length=120)
    credit_note = models.ForeignKey(
        Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("credit note")
    )
    created_at = models.DateTimeField(_("recorded"), auto_now_add=True)

    objects: ClassVar[AccountOwnedAppendOnlyManager] = AccountOwnedAppendOnlyManager()

    class Meta:
        verbose_name = _("settlement")
        verbose_name_plural = _("settlements")
        ordering = ["invoice", "settled_on", "id"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "kind", "reference"], name="settlement_once_per_source"),
            models.CheckConstraint(
                condition=(models.Q(kind=SettlementKind.REVERSAL) & models.Q(amount_minor__lt=0))
                | (~models.Q(kind=SettlementKind.REVERSAL) & models.Q(amount_minor__gt=0)),
                name="settlement_sign_matches_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.invoice_id} {self.kind} {self.amount_minor}"


class BilledPeriod(models.Model):
    """The guard against duplicate renewal invoices: one row per (service, period start),
    inserted in the transaction that creates the invoice line billing that period."""

    service = models.ForeignKey("services.Service", on_delete=models.PROTECT, related_name="billed_periods")
    period_start = models.DateField(_("period start"))
    period_end = models.DateField(_("period end"), null=True, blank=True)
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="billed_periods")

    class Meta:
        verbose_name = _("billed period")
        verbose_name_plural = _("billed periods")
        constraints = [
            models.UniqueConstraint(fields=["service", "period_start"], name="billed_period_once_per_service"),
        ]

    def __str__(self) -> str:
        return f"service {self.service_id} from {self.period_start}"


# --- Quotes ---------------------------------------------------------------------------------


class QuoteStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SENT = "sent", _("Sent")
    ACCEPTED = "accepted", _("Accepted")
    DECLINED = "declined", _("Declined")
    EXPIRED = "expired", _("Expired")
    CONVERTED = "converted", _("Invoiced")


QS = QuoteStatus
QUOTE_TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "send": (frozenset({QS.DRAFT}), QS.SENT),
    "accept": (frozenset({QS.SENT}), QS.ACCEPTED),
    "decline": (frozenset({QS.SENT}), QS.DECLINED),
    "expire": (frozenset({QS.SENT}), QS.EXPIRED),
    "convert": (frozenset({QS.ACCEPTED}), QS.CONVERTED),
}


class Quote(TimestampedModel):
    """An estimate the customer accepts or declines; accepting it invoices it."""

    account = models.ForeignKey(
        "accounts.Account", on_delete=models.PROTECT, related_name="quotes", verbose_name=_("account")
    )
    status = models.CharField(_("status"), max_length=16, choices=QuoteStatus.choices, default=QuoteStatus.DRAFT)
    subject = models.CharField(_("subject"), max_length=200)
    currency = models.CharField(_("currency"), max_length=3)
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES, default="en")
    prices_include_tax = models.BooleanField(_("prices include tax"), default=False)
    # Numbered when sent, in the quote series.
    series = models.CharField(_("series"), max_length=16, blank=True)
    year = models.PositiveSmallIntegerField(_("year"), null=True, blank=True)
    sequence = models.PositiveIntegerField(_("sequence"), null=True, blank=True)
    number = models.CharField(_("number"), max_length=40, blank=True)
    issue_date = models.DateField(_("date"), null=True, blank=True)
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    seller = models.JSONField(_("seller as printed"), default=dict, blank=True)
    buyer = models.JSONField(_("buyer as printed"), default=dict, blank=True)
    net_minor = models.BigIntegerField(_("net total (minor units)"), default=0)
    tax_minor = models.BigIntegerField(_("tax total (minor units)"), default=0)
    total_minor = models.BigIntegerField(_("total (minor units)"), default=0)
    legal_notes = models.TextField(_("legal notes"), blank=True)
    notes = models.TextField(_("notes"), blank=True)
    # Who accepted or declined, when, and the invoice accepting it produced.
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decline_reason = models.TextField(_("reason for declining"), blank=True)
    invoice = models.OneToOneField(
        Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="quote", verbose_name=_("invoice")
    )

    objects = AccountOwnedQuerySet.as_manager()

    class Meta:
        verbose_name = _("quote")
        verbose_name_plural = _("quotes")
        ordering = ["-issue_date", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=QuoteStatus.values), name="quote_status_known"),
            models.UniqueConstraint(
                fields=["series", "year", "sequence"],
                condition=models.Q(sequence__isnull=False),
                name="quote_number_unique_in_series_year",
            ),
            # The printed number too (as for invoices); drafts have none yet.
            models.UniqueConstraint(fields=["number"], condition=~models.Q(number=""), name="quote_number_unique"),
            models.CheckConstraint(
                condition=models.Q(total_minor=models.F("net_minor") + models.F("tax_minor")),
                name="quote_total_is_net_plus_tax",
            ),
            models.CheckConstraint(
                condition=models.Q(status=QuoteStatus.DRAFT) | ~models.Q(number=""), name="quote_sent_has_number"
            ),
        ]

    def __str__(self) -> str:
        return self.number or f"draft quote {self.pk}"


class QuoteLine(DocumentLine):
    quote = models.ForeignKey(Quote, on_delete=models.CASCADE, related_name="lines", verbose_name=_("quote"))

    class Meta(DocumentLine.Meta):
        verbose_name = _("quote line")
        verbose_name_plural = _("quote lines")
        constraints = [
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="quote_line_quantity_positive"),
            models.CheckConstraint(
                condition=models.Q(discount_minor__gte=0, amount_minor__gte=0, net_minor__gte=0),
                name="quote_line_amounts_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return self.description


class QuoteTax(models.Model):
    quote = models.ForeignKey(Quote, on_delete=models.CASCADE, related_name="taxes", verbose_name=_("quote"))
    category = models.CharField(_("category"), max_length=2, choices=TaxCategory.choices)
    rate = models.DecimalField(_("rate (%)"), max_digits=7, decimal_places=4)
    name = models.CharField(_("tax"), max_length=100, blank=True)
    taxable_minor = models.BigIntegerField(_("taxable amount (minor units)"))
    tax_minor = models.BigIntegerField(_("tax (minor units)"))
    exemption_text = models.CharField(_("exemption wording"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("quote tax summary")
        verbose_name_plural = _("quote tax summaries")
        ordering = ["quote", "-rate", "category"]
        constraints = [models.UniqueConstraint(fields=["quote", "category", "rate"], name="quote_tax_one_per_rate")]

    def __str__(self) -> str:
        return f"{self.category} {self.rate}%"


class InvoiceEmailed(models.Model):
    """The "invoice issued" email of one invoice or credit note: the one-to-one key is the
    guard that it is sent once, however often the task that sends it runs."""

    invoice = models.OneToOneField(Invoice, on_delete=models.PROTECT, related_name="emailed", verbose_name=_("invoice"))
    sent_at = models.DateTimeField(_("sent"))
    # How many contacts it was sent to.
    recipients = models.PositiveSmallIntegerField(_("recipients"), default=0)

    class Meta:
        verbose_name = _("invoice email")
        verbose_name_plural = _("invoice emails")

    def __str__(self) -> str:
        return f"{self.invoice_id} emailed {self.sent_at:%Y-%m-%d}"


# The billing run's report and its once-only guards live in their own module.
from sportello.billing.models_run import (  # noqa: E402
    BillingRun,
    BillingRunStatus,
    DunningSuspension,
    LateFee,
    ReminderSent,
)

__all__ = ["BillingRun", "BillingRunStatus", "DunningSuspension", "LateFee", "ReminderSent"]
