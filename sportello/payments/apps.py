from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PaymentsConfig(AppConfig):
    name = "sportello.payments"
    label = "payments"
    verbose_name = _("Payments")

    def ready(self) -> None:
        # Billing calls these handlers without importing payments (see billing.services).
        from sportello.billing.run import on_billing_run
        from sportello.billing.services import on_invoice_paid, on_invoices_issued
        from sportello.payments.services import (
            autopay_retries_run,
            credit_from_paid_funds_invoice,
            invoices_issued_pay_automatically,
        )

        on_invoice_paid(credit_from_paid_funds_invoice)
        on_invoices_issued(invoices_issued_pay_automatically)
        # Failed automatic charges are charged again on their retry days by the daily run.
        on_billing_run(autopay_retries_run)
