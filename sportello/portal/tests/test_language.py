import re

import pytest
from django.urls import reverse

from sportello.accounts.models import User


@pytest.mark.django_db
def test_a_member_choice_of_language_is_saved_on_the_user(alice_client, alice):
    response = alice_client.post(reverse("language-set"), {"language": "it", "next": "/account/"})
    assert response.status_code == 302
    assert response["Location"] == "/account/"
    assert User.objects.get(pk=alice.user.pk).language == "it"
    page = alice_client.get("/account/")
    assert page["Content-Language"] == "it"
    assert '<html lang="it">' in page.content.decode()


@pytest.mark.django_db
def test_the_saved_language_wins_over_the_browser(alice_client, alice):
    User.objects.filter(pk=alice.user.pk).update(language="es")
    page = alice_client.get("/", headers={"accept-language": "it"})
    assert page["Content-Language"] == "es"


@pytest.mark.django_db
def test_visitors_get_their_browser_language_and_a_cookie_when_they_choose(client):
    assert client.get("/accounts/login/", headers={"accept-language": "pt-BR,pt;q=0.9"})["Content-Language"] == "pt-br"
    response = client.post(reverse("language-set"), {"language": "es", "next": "/accounts/login/"})
    assert response.cookies["django_language"].value == "es"
    assert client.get("/accounts/login/")["Content-Language"] == "es"


@pytest.mark.django_db
def test_unknown_languages_and_foreign_redirects_are_refused(alice_client, alice):
    response = alice_client.post(reverse("language-set"), {"language": "xx", "next": "https://evil.example/"})
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert "django_language" not in response.cookies
    assert User.objects.get(pk=alice.user.pk).language == ""


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["en", "es", "pt-br", "it"])
def test_the_language_list_names_each_language_in_its_own_words(alice_client, alice, language):
    User.objects.filter(pk=alice.user.pk).update(language=language)
    page = alice_client.get("/").content.decode()
    switcher = re.search(r'<select id="language-select"[^>]*>(.*?)</select>', page, re.S)
    assert switcher is not None
    assert re.findall(r'<option value="([^"]+)" lang="[^"]+"[^>]*>([^<]+)</option>', switcher[1]) == [
        ("en", "English"),
        ("es", "Español"),
        ("pt-br", "Português (Brasil)"),
        ("it", "Italiano"),
    ]
