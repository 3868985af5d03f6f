"""Django's own strings that our catalogs translate.

Django 6 added some user-facing strings (the empty choice of a select) before its own
catalogs translated them into every language we serve. Listing them here with
gettext_noop has makemessages extract them into our catalogs, which LOCALE_PATHS puts
ahead of Django's, so that `make messages` keeps their translations.
"""

from django.utils.translation import gettext_noop

DJANGO_STRINGS = (
    gettext_noop("- Select an option -"),  # django.db.models.fields.BLANK_CHOICE_LABEL
)
