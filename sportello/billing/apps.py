from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BillingConfig(AppConfig):
    name = "sportello.billing"
    label = "billing"
    verbose_name = _("Billing")

    def ready(self) -> None:
        from sportello.billing.handlers import on_paid_renew_and_unsuspend
        from sportello.billing.services import on_invoice_paid

        on_invoice_paid(on_paid_renew_and_unsuspend)
