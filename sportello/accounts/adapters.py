from allauth.account.adapter import DefaultAccountAdapter
from django.http import HttpRequest


class AccountAdapter(DefaultAccountAdapter):
    """Customers' people are created by the provider, never by self-service sign-up."""

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return False
