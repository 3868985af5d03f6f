from django.conf import settings
from django.http import HttpRequest


def site(request: HttpRequest) -> dict[str, object]:
    return {
        "PROVIDER_NAME": settings.PROVIDER_NAME,
        "SUPPORT_EMAIL": settings.SUPPORT_EMAIL,
        # Each language by its own name, whatever the page's language: a reader who cannot
        # read the current one still finds theirs (Django's own list translates "English").
        "LANGUAGES_NATIVE": settings.LANGUAGES,
    }
