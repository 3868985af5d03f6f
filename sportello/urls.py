from django.contrib import admin
from django.urls import include, path

from sportello.api.api import api
from sportello.core.views import healthz
from sportello.portal.views import public, support

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    *public.urlpatterns,
    *support.inbound_urlpatterns,
    path("accounts/", include("allauth.urls")),
    path("staff/", include("sportello.staff.urls")),
    path("staff/", admin.site.urls),
    path("api/v1/", api.urls),
    path("", include("sportello.payments.urls")),
    path("", include("sportello.portal.urls")),
]
