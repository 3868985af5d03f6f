"""Auto-pay for one service: the switch on the service page.

Turning it off keeps the service's invoices from being charged to the saved card (see
`payments.models.ServicePaymentPreference` for grouped invoices); it needs the billing right
and a member who may change things, checked here again whatever the page showed. Another
account's service is a 404.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from sportello.accounts.models import Area
from sportello.payments.errors import ServiceAutopayRefused
from sportello.payments.services import service_autopay_set
from sportello.portal.access import MemberRequest, member_required
from sportello.services.selectors import services_visible_to


class ServiceAutopayForm(forms.Form):
    enabled = forms.ChoiceField(choices=[("on", "on"), ("off", "off")])


@member_required(Area.BILLING)
@require_POST
def service_autopay(request: MemberRequest, service_id: int) -> HttpResponse:
    membership = request.membership
    service = get_object_or_404(services_visible_to(membership=membership), pk=service_id)
    if not membership.can_change:
        raise Http404
    form = ServiceAutopayForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose whether this service is paid automatically."))
        return redirect("portal:service-detail", service_id=service.pk)
    enabled = form.cleaned_data["enabled"] == "on"
    try:
        service_autopay_set(account=membership.account, service=service, autopay=enabled, by=request.user)
    except ServiceAutopayRefused:
        messages.error(request, _("Automatic payment cannot be changed for a service that has ended."))
        return redirect("portal:service-detail", service_id=service.pk)
    if enabled:
        messages.success(request, _("Automatic payment is on for this service."))
    else:
        messages.success(
            request, _("Automatic payment is off for this service: its invoices are not charged to your card.")
        )
    return redirect("portal:service-detail", service_id=service.pk)


urlpatterns: list[URLPattern] = [
    path("services/<int:service_id>/autopay/", service_autopay, name="service-autopay"),
]
