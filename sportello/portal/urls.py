from django.urls import path

from sportello.portal import views

app_name = "portal"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("billing/", views.billing, name="billing"),
    path("services/", views.services, name="services"),
    path("domains/", views.domains, name="domains"),
    path("support/", views.support, name="support"),
    path("account/", views.account, name="account"),
    path("account/switch/", views.account_switch, name="account-switch"),
]
