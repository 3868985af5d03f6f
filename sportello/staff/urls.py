from django.urls import path

from sportello.staff import documents, impersonation

urlpatterns = [
    path("impersonate/<int:user_id>/", impersonation.impersonation_start, name="staff-impersonate"),
    path("impersonate/end/", impersonation.impersonation_end, name="staff-impersonate-end"),
    path("billing/invoices/<int:invoice_id>/pdf/", documents.staff_invoice_pdf, name="staff-invoice-pdf"),
    path("billing/quotes/<int:quote_id>/pdf/", documents.staff_quote_pdf, name="staff-quote-pdf"),
]
