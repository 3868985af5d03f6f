"""allauth's account emails in Sportello's words: branded, in the member's language, naming
the provider and the link's lifetime; and login messages in the member's language."""

import pytest
from allauth.account.adapter import get_adapter
from allauth.core import context as allauth_context
from django.contrib.sessions.backends.db import SessionStore
from django.test import RequestFactory
from django.urls import reverse

from sportello.accounts.models import User
from sportello.conftest import PASSWORD
from sportello.notifications.models import EmailLog

RESET = {
    "en": (
        "Reset your password for the Acme Hosting customer area",
        "Hello Alice,",
        "Someone (we hope you) asked to reset the password of your Acme Hosting customer area account. "
        "Open this link to choose a new password:",
        "The link works once, for 60 minutes.",
        "The Acme Hosting team",
    ),
    "es": (
        "Restablezca su contraseña del área de clientes de Acme Hosting",
        "Hola, Alice:",
        "Alguien (esperamos que usted) ha pedido restablecer la contraseña de su cuenta del área de clientes "
        "de Acme Hosting. Abra este enlace para elegir una contraseña nueva:",
        "El enlace funciona una sola vez, durante 60 minutos.",
        "El equipo de Acme Hosting",
    ),
    "pt-br": (
        "Redefina sua senha da área do cliente Acme Hosting",
        "Olá, Alice,",
        "Alguém (esperamos que você) pediu para redefinir a senha da sua conta na área do cliente Acme Hosting. "
        "Abra este link para escolher uma nova senha:",
        "O link funciona uma única vez, por 60 minutos.",
        "Equipe Acme Hosting",
    ),
    "it": (
        "Reimposti la password dell'area clienti Acme Hosting",
        "Ciao Alice,",
        "Qualcuno (speriamo Lei) ha chiesto di reimpostare la password del Suo account dell'area clienti "
        "Acme Hosting. Apra questo link per scegliere una nuova password:",
        "Il link funziona una sola volta, per 60 minuti.",
        "Il team di Acme Hosting",
    ),
}


@pytest.fixture
def acme(settings):
    settings.PROVIDER_NAME = "Acme Hosting"
    settings.SUPPORT_EMAIL = "help@acme.example"


def html_text(html: str) -> str:
    return " ".join(html.replace("&#x27;", "'").split())


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["en", "es", "pt-br", "it"])
def test_the_reset_email_names_the_provider_and_the_link_lifetime(
    client, alice, acme, language, django_capture_on_commit_callbacks
):
    User.objects.filter(pk=alice.user.pk).update(language=language)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("account_reset_password"), {"email": "alice@example.org"})
    email = EmailLog.objects.get(kind="password_reset")
    subject, greeting, intro, lifetime, team = RESET[language]
    assert email.subject == subject
    text = email.body_text
    assert text.startswith(f"{greeting}\n\n{intro}\n\nhttp://127.0.0.1:8000/accounts/password/reset/key/")
    assert f"\n\n{lifetime}\n\n" in text
    assert text.endswith(f"{team}\nhttp://127.0.0.1:8000")
    assert "Hello from" not in text and "Thank you for using" not in text
    html = html_text(email.body_html)
    for sentence in (greeting, intro, lifetime, team):
        assert sentence in html
    assert 'href="http://127.0.0.1:8000/accounts/password/reset/key/' in email.body_html
    assert "Acme Hosting · " in html  # the layout's header and footer


@pytest.mark.django_db
def test_the_provider_name_of_a_fresh_install_is_never_empty(client, alice, django_capture_on_commit_callbacks):
    from django.conf import settings

    assert settings.PROVIDER_NAME
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("account_reset_password"), {"email": "alice@example.org"})
    email = EmailLog.objects.get(kind="password_reset")
    assert email.subject == f"Reset your password for the {settings.PROVIDER_NAME} customer area"
    assert f"The {settings.PROVIDER_NAME} team" in email.body_text
    assert " the  customer area" not in email.subject


def send_as_allauth(user, template, context=None, *, notice=True):
    request = RequestFactory().get("/", REMOTE_ADDR="203.0.113.9", HTTP_USER_AGENT="Firefox/140")
    request.user = user
    request.session = SessionStore()
    with allauth_context.request_context(request):
        adapter = get_adapter(request)
        if notice:
            adapter.send_notification_mail(f"account/email/{template}", user, context)
        else:
            adapter.send_mail(f"account/email/{template}", user.email, {"user": user, **(context or {})})
    return EmailLog.objects.latest("pk")


NOTICES = {
    ("password_changed", "en"): (
        "Your Acme Hosting password was changed",
        "The password of your Acme Hosting customer area account was changed.",
        "If you did not make this change, change your password now and write to help@acme.example. "
        "The change was made from:",
        "- IP address: 203.0.113.9\n- Browser: Firefox/140\n- Date: ",
    ),
    ("password_changed", "es"): (
        "Se ha cambiado su contraseña de Acme Hosting",
        "Se ha cambiado la contraseña de su cuenta del área de clientes de Acme Hosting.",
        "Si no ha hecho usted este cambio, cambie su contraseña ahora y escriba a help@acme.example. "
        "El cambio se hizo desde:",
        "- Dirección IP: 203.0.113.9\n- Navegador: Firefox/140\n- Fecha: ",
    ),
    ("password_reset", "en"): (
        "Your Acme Hosting password was reset",
        "The password of your Acme Hosting customer area account was reset with an emailed link.",
        "If you did not make this change, change your password now and write to help@acme.example. "
        "The change was made from:",
        "- IP address: 203.0.113.9\n- Browser: Firefox/140\n- Date: ",
    ),
    ("password_set", "es"): (
        "Se ha establecido su contraseña de Acme Hosting",
        "Se ha establecido una contraseña para su cuenta del área de clientes de Acme Hosting.",
        "Si no ha hecho usted este cambio, cambie su contraseña ahora y escriba a help@acme.example. "
        "El cambio se hizo desde:",
        "- Dirección IP: 203.0.113.9\n- Navegador: Firefox/140\n- Fecha: ",
    ),
    ("email_changed", "en"): (
        "Your Acme Hosting login email was changed",
        "The login email of your Acme Hosting customer area account was changed from old@example.org "
        "to alice@example.org.",
        "If you did not make this change, change your password now and write to help@acme.example. "
        "The change was made from:",
        "- IP address: 203.0.113.9\n- Browser: Firefox/140\n- Date: ",
    ),
    ("email_changed", "es"): (
        "Se ha cambiado su correo de acceso a Acme Hosting",
        "El correo de acceso de su cuenta del área de clientes de Acme Hosting ha cambiado de old@example.org "
        "a alice@example.org.",
        "Si no ha hecho usted este cambio, cambie su contraseña ahora y escriba a help@acme.example. "
        "El cambio se hizo desde:",
        "- Dirección IP: 203.0.113.9\n- Navegador: Firefox/140\n- Fecha: ",
    ),
}


@pytest.mark.django_db
@pytest.mark.parametrize(("template", "language"), list(NOTICES))
def test_security_notices_are_branded_and_in_the_member_language(alice, acme, template, language):
    User.objects.filter(pk=alice.user.pk).update(language=language)
    user = User.objects.get(pk=alice.user.pk)
    context = {"from_email": "old@example.org", "to_email": "alice@example.org"}
    email = send_as_allauth(user, template, context if template == "email_changed" else None)
    subject, notice, advice, origin = NOTICES[(template, language)]
    greeting = {"en": "Hello Alice,", "es": "Hola, Alice:"}[language]
    assert email.subject == subject
    assert email.body_text.startswith(f"{greeting}\n\n{notice}\n\n{advice}\n\n{origin}")
    assert email.body_text.endswith(
        {"en": "The Acme Hosting team", "es": "El equipo de Acme Hosting"}[language] + "\nhttp://127.0.0.1:8000"
    )
    html = html_text(email.body_html)
    for sentence in (greeting, notice, advice, origin.split("\n")[0].removeprefix("- ")):
        assert sentence in html


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "subject", "intro", "action"),
    [
        (
            "en",
            "Confirm your email address for the Acme Hosting customer area",
            "This email address was given for an account of the Acme Hosting customer area.",
            "Open this link to confirm it:",
        ),
        (
            "es",
            "Confirme su dirección de correo para el área de clientes de Acme Hosting",
            "Esta dirección de correo se ha indicado para una cuenta del área de clientes de Acme Hosting.",
            "Abra este enlace para confirmarla:",
        ),
    ],
)
def test_the_email_confirmation_is_branded_and_translated(alice, acme, language, subject, intro, action):
    User.objects.filter(pk=alice.user.pk).update(language=language)
    user = User.objects.get(pk=alice.user.pk)
    link = "http://127.0.0.1:8000/accounts/confirm-email/abc/"
    email = send_as_allauth(user, "email_confirmation", {"activate_url": link, "code": None}, notice=False)
    assert email.subject == subject
    assert f"\n\n{intro}\n\n{action}\n\n{link}\n\n" in email.body_text
    assert intro in html_text(email.body_html) and f'href="{link}"' in email.body_html


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("saved", "browser", "language", "signed_in"),
    [
        ("es", "en", "es", "Ha iniciado sesión exitosamente como alice@example.org."),
        ("", "it", "it", "Ti sei collegato con successo come alice@example.org."),
    ],
)
def test_the_signed_in_message_is_in_the_members_language(client, alice, saved, browser, language, signed_in):
    """The member's saved language wins over the browser's; without one, the browser's stays."""
    User.objects.filter(pk=alice.user.pk).update(language=saved)
    response = client.post(
        reverse("account_login"),
        {"login": "alice@example.org", "password": PASSWORD},
        headers={"accept-language": browser},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("portal:dashboard")
    assert response["Content-Language"] == language
    assert signed_in in response.content.decode()
    assert "Successfully signed in" not in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "too_short"),
    [
        ("it", "Questa password è troppo corta: deve contenere almeno 10 caratteri."),
        ("es", "La contraseña es demasiado corta. Debe contener por lo menos 10 caracteres."),
    ],
)
def test_password_errors_are_in_the_member_language(client, alice, language, too_short):
    User.objects.filter(pk=alice.user.pk).update(language=language)
    client.force_login(alice.user)
    response = client.post(
        "/accounts/password/change/",
        {"oldpassword": PASSWORD, "password1": "kiwi-7", "password2": "kiwi-7"},
        headers={"accept-language": "en"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert too_short in html
    assert "This password is too short" not in html
    assert User.objects.get(pk=alice.user.pk).check_password(PASSWORD)  # unchanged


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("template", "language", "subject", "notice"),
    [
        (
            "totp_activated",
            "en",
            "Two-factor authentication turned on at Acme Hosting",
            "An authenticator app was set up as the second step of your Acme Hosting customer area login.",
        ),
        (
            "webauthn_added",
            "es",
            "Nueva llave de acceso en Acme Hosting",
            "Se ha añadido una llave de acceso nueva a su cuenta del área de clientes de Acme Hosting.",
        ),
        (
            "recovery_codes_generated",
            "it",
            "Nuovi codici di recupero su Acme Hosting",
            "Sono stati generati nuovi codici di recupero per il Suo account dell'area clienti Acme Hosting; "
            "quelli precedenti non funzionano più.",
        ),
    ],
)
def test_two_factor_notices_are_branded_and_translated(alice, acme, template, language, subject, notice):
    User.objects.filter(pk=alice.user.pk).update(language=language)
    user = User.objects.get(pk=alice.user.pk)
    request = RequestFactory().get("/", REMOTE_ADDR="203.0.113.9", HTTP_USER_AGENT="Firefox/140")
    request.user = user
    request.session = SessionStore()
    with allauth_context.request_context(request):
        get_adapter(request).send_notification_mail(f"mfa/email/{template}", user)
    email = EmailLog.objects.latest("pk")
    assert email.subject == subject
    assert f"\n\n{notice}\n\n" in email.body_text
    assert notice in html_text(email.body_html)
    assert "203.0.113.9" in email.body_text and "203.0.113.9" in email.body_html


@pytest.mark.django_db
def test_the_reset_done_notice_is_a_security_notice_not_a_new_reset_request(alice):
    from sportello.core.models import AuditEvent

    email = send_as_allauth(alice.user, "password_reset")
    assert email.kind == "security"
    assert not AuditEvent.objects.filter(action="user.password_reset_requested").exists()
    assert AuditEvent.objects.filter(action="user.password_changed").count() == 1
