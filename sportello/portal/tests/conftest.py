"""Fixtures of the client-area tests that come from the domains they show."""

# The helpdesk's: departments, staff, a request with a file, services, limits.
from sportello.support.tests.conftest import (  # noqa: F401
    alice_service,
    alice_ticket,
    bob_service,
    colleague,
    finance,
    hosting,
    staff,
    support_settings,
    technical,
)
