from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrdersConfig(AppConfig):
    name = "sportello.orders"
    label = "orders"
    verbose_name = _("Orders")

    def ready(self) -> None:
        from sportello.billing.services import on_invoice_paid
        from sportello.orders import checks  # noqa: F401  (registers the settings check)
        from sportello.orders.invoicing import order_invoice_paid

        on_invoice_paid(order_invoice_paid)
