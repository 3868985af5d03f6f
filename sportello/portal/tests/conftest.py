"""Fixtures of the client-area tests that come from the domains they show."""

# The helpdesk's: departments, staff, a request with a file, services, limits.
from sportello.support.tests.conftest import (  # noqa: F401
    alice_credit_note,
    alice_draft,
    alice_invoice,
    alice_order,
    alice_service,
    alice_technician,
    alice_ticket,
    billing_setup,
    bob_invoice,
    bob_order,
    bob_service,
    colleague,
    finance,
    hosting,
    seller,
    staff,
    support_settings,
    tax_rates,
    technical,
)
