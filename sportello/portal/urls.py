from django.urls import path

from sportello.portal.views import emails, pages, people, quotes, schedule, security, services

app_name = "portal"

urlpatterns = [
    path("", pages.dashboard, name="dashboard"),
    path("billing/", pages.billing, name="billing"),
    *schedule.urlpatterns,
    *quotes.urlpatterns,
    *services.urlpatterns,
    path("domains/", pages.domains, name="domains"),
    path("support/", pages.support, name="support"),
    path("account/", pages.account, name="account"),
    path("account/switch/", pages.account_switch, name="account-switch"),
    path("account/profile/", pages.profile, name="profile"),
    *people.urlpatterns,
    *security.urlpatterns,
    *emails.urlpatterns,
]
