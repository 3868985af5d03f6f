from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BillingConfig(AppConfig):
    name = "sportello.billing"
    label = "billing"
    verbose_name = _("Billing")

    def ready(self) -> None:
        from sportello.billing.handlers import on_paid_renew_and_unsuspend
        from sportello.billing.pdf import invoice_pdf_on_issue, invoice_pdf_on_paid
        from sportello.billing.services import on_invoice_issued, on_invoice_paid

        # The PDF of an issued invoice is rendered once, after commit, and kept.
        on_invoice_issued(invoice_pdf_on_issue)
        on_invoice_paid(invoice_pdf_on_paid)
        # A paid renewal renews its services; paying what is overdue lifts a suspension.
        on_invoice_paid(on_paid_renew_and_unsuspend)
