from django.urls import path

from sportello.portal.views import (
    autopay,
    billing,
    documents,
    emails,
    orders,
    pages,
    payments,
    people,
    quotes,
    schedule,
    security,
    services,
    store,
    support,
    tokens,
)

app_name = "portal"

urlpatterns = [
    path("", pages.dashboard, name="dashboard"),
    *billing.urlpatterns,
    *payments.urlpatterns,
    *schedule.urlpatterns,
    *documents.urlpatterns,
    *quotes.urlpatterns,
    *services.urlpatterns,
    *store.urlpatterns,
    *orders.urlpatterns,
    path("domains/", pages.domains, name="domains"),
    *support.urlpatterns,
    path("account/", pages.account, name="account"),
    path("account/switch/", pages.account_switch, name="account-switch"),
    path("account/profile/", pages.profile, name="profile"),
    *people.urlpatterns,
    *security.urlpatterns,
    *tokens.urlpatterns,
    *emails.urlpatterns,
    *autopay.urlpatterns,
]
