from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PaymentsConfig(AppConfig):
    name = "sportello.payments"
    label = "payments"
    verbose_name = _("Payments")

    def ready(self) -> None:
        # Billing calls these handlers without importing payments (see billing.services).
        from sportello.billing.services import on_invoice_issued, on_invoice_paid
        from sportello.payments.services import credit_from_paid_funds_invoice, invoice_issued_pay_automatically

        on_invoice_paid(credit_from_paid_funds_invoice)
        on_invoice_issued(invoice_issued_pay_automatically)
