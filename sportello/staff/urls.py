from django.urls import path

from sportello.staff import impersonation

urlpatterns = [
    path("impersonate/<int:user_id>/", impersonation.impersonation_start, name="staff-impersonate"),
    path("impersonate/end/", impersonation.impersonation_end, name="staff-impersonate-end"),
]
