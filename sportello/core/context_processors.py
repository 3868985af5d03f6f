from django.conf import settings
from django.http import HttpRequest


def site(request: HttpRequest) -> dict[str, object]:
    return {
        "PROVIDER_NAME": settings.PROVIDER_NAME,
        "SUPPORT_EMAIL": settings.SUPPORT_EMAIL,
    }
