from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "sportello.demo"
    label = "demo"
    verbose_name = "Demo data"
