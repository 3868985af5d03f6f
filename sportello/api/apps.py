from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "sportello.api"
    label = "api"
    verbose_name = "API"
