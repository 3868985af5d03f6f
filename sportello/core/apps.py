from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "sportello.core"
    label = "core"
    verbose_name = _("Operations")

    def ready(self) -> None:
        # Periodic jobs register themselves in each app's tasks module.
        autodiscover_modules("tasks")
