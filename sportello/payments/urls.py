from django.urls import path

from sportello.payments import views

app_name = "payments"

urlpatterns = [
    path("payments/webhooks/<slug:gateway>/", views.webhook, name="webhook"),
    path("testcard/pay/<str:token>/", views.testcard_checkout, name="testcard-checkout"),
    path("testcard/pay/<str:token>/authenticate/", views.testcard_authenticate, name="testcard-authenticate"),
    path("testcard/pay/<str:token>/cancel/", views.testcard_cancel, name="testcard-cancel"),
]
