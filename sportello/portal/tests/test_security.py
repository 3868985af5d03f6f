"""The Security tab: password, two-factor authentication, and where the user is logged in;
the two-factor requirement; allauth's pages drawn in the client area."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value
from django.contrib.messages import get_messages
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse

from sportello.accounts.middleware_security import Passkey, SecondFactors
from sportello.accounts.models import Membership, User, UserSession
from sportello.conftest import PASSWORD
from sportello.core.models import AuditEvent
from sportello.core.testing import CHROME_LINUX, FIREFOX_WINDOWS, Clock, logged_in_browser
from sportello.portal.views.security import SessionRow, device_summary

T0 = dt.datetime(2025, 3, 10, 9, 30, tzinfo=dt.UTC)
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1"
)
PASSPHRASE_70 = "seven velvet otters quietly juggle amber lanterns beside the old mill!"
SECURITY = "/account/security/"
MFA_INDEX = "/accounts/2fa/"
TOTP_ACTIVATE = "/accounts/2fa/totp/activate/"
REAUTHENTICATE = "/accounts/reauthenticate/"


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The time the session tracking reads; moved by hand, never by sleeping."""
    clock = Clock(T0)
    monkeypatch.setattr("sportello.accounts.middleware_security.utc_now", clock)
    return clock


def browser(user: User, **kwargs: str) -> Client:
    return logged_in_browser(user, first_page=SECURITY, **kwargs)


def session_key(client: Client) -> str:
    return client.cookies["sessionid"].value


def row_of(client: Client) -> UserSession:
    return UserSession.objects.get(session_key=session_key(client))


def is_logged_out(client: Client) -> bool:
    response = client.get("/")
    return response.status_code == 302 and response["Location"] == "/accounts/login/?next=/"


def messages_of(response: object) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]  # type: ignore[attr-defined]


def sessions_table() -> list[tuple[str, int]]:
    return sorted(UserSession.objects.values_list("session_key", "user_id"))


def reauthenticate(client: Client) -> None:
    response = client.post(REAUTHENTICATE, {"password": PASSWORD})
    assert response.status_code == 302


# --- Devices ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user_agent", "summary"),
    [
        (CHROME_LINUX, "Chrome on Linux"),
        (FIREFOX_WINDOWS, "Firefox on Windows"),
        (SAFARI_IPHONE, "Safari on iOS"),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Version/17.4.1 Safari/605.1.15",
            "Safari on macOS",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/125.0.0.0 Safari/537.36 Edg/125.0.2535.67",
            "Edge on Windows",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/125.0.6422.165 Mobile Safari/537.36",
            "Chrome on Android",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
            "SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36",
            "Samsung Internet on Android",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "CriOS/125.0.6422.80 Mobile/15E148 Safari/604.1",
            "Chrome on iOS",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/124.0.0.0 Safari/537.36 OPR/110.0.0.0",
            "Opera on Windows",
        ),
        (
            "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/125.0.0.0 Safari/537.36",
            "Chrome on ChromeOS",
        ),
        ("Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0", "Firefox on Linux"),
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0.0.0 "
            "Safari/537.36",
            "Chrome on Linux",
        ),
        ("curl/8.5.0", "Unknown device"),
        ("", "Unknown device"),
    ],
)
def test_it_names_devices_from_their_user_agent(user_agent: str, summary: str) -> None:
    assert device_summary(user_agent) == summary


# --- Where you are logged in ------------------------------------------------------------------


def test_it_lists_the_users_own_sessions_this_device_first(alice: Membership, bob: Membership, clock: Clock) -> None:
    phone = browser(alice.user, user_agent=SAFARI_IPHONE, ip="198.51.100.4")
    clock.now = T0 + dt.timedelta(minutes=5)
    laptop = browser(alice.user)
    browser(bob.user, ip="192.0.2.99")

    response = laptop.get(SECURITY)

    assert response.status_code == 200
    assert response.context["sessions"] == [
        SessionRow(
            id=row_of(laptop).pk,
            device="Chrome on Linux",
            user_agent=CHROME_LINUX,
            ip_address="203.0.113.7",
            created_at=T0 + dt.timedelta(minutes=5),
            last_seen=T0 + dt.timedelta(minutes=5),
            is_current=True,
            by_staff=False,
        ),
        SessionRow(
            id=row_of(phone).pk,
            device="Safari on iOS",
            user_agent=SAFARI_IPHONE,
            ip_address="198.51.100.4",
            created_at=T0,
            last_seen=T0,
            is_current=False,
            by_staff=False,
        ),
    ]
    html = response.content.decode()
    assert html.count("This device") == 1
    # Times in the account's zone (Europe/Madrid is UTC+1 in March).
    assert "10 Mar 2025, 10:35:00" in html
    assert "10 Mar 2025, 10:30:00" in html
    assert f'action="/account/security/sessions/{row_of(phone).pk}/end/"' in html
    assert f'action="/account/security/sessions/{row_of(laptop).pk}/end/"' not in html
    assert 'action="/account/security/sessions/end-others/"' in html
    assert "192.0.2.99" not in html


def test_ending_a_session_logs_that_browser_out(alice: Membership, clock: Clock) -> None:
    phone = browser(alice.user, user_agent=SAFARI_IPHONE, ip="198.51.100.4")
    laptop = browser(alice.user)
    phone_key = session_key(phone)

    response = laptop.post(reverse("portal:security-session-end", args=[row_of(phone).pk]))

    assert response.status_code == 302
    assert response["Location"] == SECURITY
    assert messages_of(response) == ["The session has ended: that browser is logged out."]
    assert not Session.objects.filter(session_key=phone_key).exists()
    assert sessions_table() == [(session_key(laptop), alice.user.pk)]
    assert list(AuditEvent.objects.filter(action="session.ended").values_list("actor_id", "ip_address", "data")) == [
        (alice.user.pk, "203.0.113.7", {"sessions": 1})
    ]
    assert is_logged_out(phone)
    assert laptop.get("/").status_code == 200


def test_ending_someone_elses_session_answers_404_and_changes_nothing(
    alice: Membership, bob: Membership, clock: Clock
) -> None:
    alices = browser(alice.user)
    bobs = browser(bob.user)
    before = sessions_table()

    response = alices.post(reverse("portal:security-session-end", args=[row_of(bobs).pk]))

    assert response.status_code == 404
    assert sessions_table() == before
    assert Session.objects.filter(session_key=session_key(bobs)).exists()
    assert bobs.get("/").status_code == 200
    assert AuditEvent.objects.filter(action="session.ended").count() == 0
    missing = UserSession.objects.order_by("-pk").values_list("pk", flat=True).first() + 1  # type: ignore[operator]
    assert alices.post(reverse("portal:security-session-end", args=[missing])).status_code == 404


def test_the_current_session_is_not_ended_from_the_list(alice: Membership, clock: Clock) -> None:
    laptop = browser(alice.user)
    before = sessions_table()

    response = laptop.post(reverse("portal:security-session-end", args=[row_of(laptop).pk]))

    assert response.status_code == 302
    assert response["Location"] == SECURITY
    assert messages_of(response) == ["This is the browser you are using now. To end this session, log out."]
    assert sessions_table() == before
    assert laptop.get("/").status_code == 200


def test_ending_sessions_needs_a_post(alice: Membership, clock: Clock) -> None:
    phone = browser(alice.user, user_agent=SAFARI_IPHONE)
    laptop = browser(alice.user)

    assert laptop.get(reverse("portal:security-session-end", args=[row_of(phone).pk])).status_code == 405
    assert laptop.get(reverse("portal:security-sessions-end-others")).status_code == 405
    assert phone.get("/").status_code == 200


def test_ending_all_other_sessions_keeps_the_current_one(alice: Membership, bob: Membership, clock: Clock) -> None:
    phone = browser(alice.user, user_agent=SAFARI_IPHONE)
    office = browser(alice.user, user_agent=FIREFOX_WINDOWS)
    laptop = browser(alice.user)
    bobs = browser(bob.user)

    response = laptop.post(reverse("portal:security-sessions-end-others"))

    assert response.status_code == 302
    assert response["Location"] == SECURITY
    assert messages_of(response) == ["2 other sessions have ended."]
    assert sessions_table() == sorted([(session_key(laptop), alice.user.pk), (session_key(bobs), bob.user.pk)])
    assert is_logged_out(phone)
    assert is_logged_out(office)
    assert laptop.get("/").status_code == 200
    assert bobs.get("/").status_code == 200


def test_after_ending_other_sessions_it_goes_back_to_a_local_page_only(alice: Membership, clock: Clock) -> None:
    laptop = browser(alice.user)
    end_others = reverse("portal:security-sessions-end-others")

    response = laptop.post(end_others, {"next": "/accounts/password/change/"})
    assert response["Location"] == "/accounts/password/change/"
    assert messages_of(response) == ["You were not logged in anywhere else."]

    assert laptop.post(end_others, {"next": "https://evil.example/"})["Location"] == SECURITY


# --- Two-factor authentication --------------------------------------------------------------


def test_it_shows_the_second_factors_and_why_they_are_required(alice: Membership, clock: Clock) -> None:
    alice.account.require_mfa = True
    alice.account.save(update_fields=["require_mfa"])
    TOTP.activate(alice.user, generate_totp_secret())
    RecoveryCodes.activate(alice.user)
    Authenticator.objects.create(
        user=alice.user, type=Authenticator.Type.WEBAUTHN, data={"name": "YubiKey 5", "credential": {}}, created_at=T0
    )
    laptop = browser(alice.user)

    response = laptop.get(SECURITY)

    assert response.status_code == 200
    assert response.context["factors"] == SecondFactors(
        totp=True, recovery_codes_unused=10, passkeys=[Passkey(name="YubiKey 5", created_at=T0, last_used_at=None)]
    )
    html = response.content.decode()
    assert "Alice Servicios S.L. requires two-factor authentication for everyone who logs in to it." in html
    assert "As a staff user" not in html
    assert "10 unused codes left." in html
    for url in ("/accounts/2fa/totp/deactivate/", "/accounts/2fa/recovery-codes/", "/accounts/2fa/webauthn/"):
        assert f'href="{url}"' in html


def test_a_user_without_second_factors_is_offered_to_set_them_up(alice: Membership, clock: Clock) -> None:
    response = browser(alice.user).get(SECURITY)

    assert response.context["factors"] == SecondFactors(totp=False, recovery_codes_unused=None, passkeys=[])
    assert response.context["accounts_requiring_mfa"] == []
    html = response.content.decode()
    assert f'href="{TOTP_ACTIVATE}"' in html
    assert 'href="/accounts/2fa/webauthn/add/"' in html
    assert 'href="/accounts/password/change/"' in html


MFA_MESSAGE = "Your account requires two-factor authentication. Set up an authenticator app or a passkey to continue."


def test_staff_must_set_up_a_second_factor_before_anything_else(settings, alice: Membership, clock: Clock) -> None:
    settings.STAFF_REQUIRE_MFA = True
    User.objects.filter(pk=alice.user.pk).update(is_staff=True)
    client = browser(alice.user)

    for url in ("/", SECURITY, "/billing/", "/staff/"):
        response = client.get(url)
        assert (url, response.status_code, response["Location"]) == (url, 302, MFA_INDEX)
    response = client.get("/billing/", headers={"hx-request": "true"})
    assert (response.status_code, response["HX-Redirect"]) == (200, MFA_INDEX)

    response = client.get(MFA_INDEX)
    assert response.status_code == 200
    assert f'<div class="alert alert-warning"><p>{MFA_MESSAGE}</p></div>' in response.content.decode()
    # What it takes to set one up, or to leave, stays open.
    assert client.get("/accounts/password/change/").status_code == 200
    assert client.get(TOTP_ACTIVATE)["Location"] == f"{REAUTHENTICATE}?next=%2Faccounts%2F2fa%2Ftotp%2Factivate%2F"
    language = client.post("/language/", {"language": "en", "next": "/accounts/password/change/"})
    assert language["Location"] == "/accounts/password/change/"
    assert client.get("/healthz").status_code in (200, 503)

    TOTP.activate(alice.user, generate_totp_secret())

    assert client.get("/").status_code == 200
    assert "As a staff user, you must use two-factor authentication." in client.get(SECURITY).content.decode()
    assert MFA_MESSAGE not in client.get(MFA_INDEX).content.decode()


def test_staff_without_a_customer_account_get_the_two_factor_page_too(settings, db: None, clock: Clock) -> None:
    settings.STAFF_REQUIRE_MFA = True
    staff = User.objects.create_user("staff@example.net", PASSWORD, is_staff=True)
    client = browser(staff)

    assert client.get("/staff/")["Location"] == MFA_INDEX
    response = client.get(MFA_INDEX)
    assert response.status_code == 200
    html = response.content.decode()
    assert MFA_MESSAGE in html
    assert 'class="tabs"' not in html  # no account, so no account tabs


def test_staff_are_not_asked_when_the_setting_is_off(settings, alice: Membership, clock: Clock) -> None:
    settings.STAFF_REQUIRE_MFA = False
    User.objects.filter(pk=alice.user.pk).update(is_staff=True)

    assert browser(alice.user).get("/").status_code == 200


@pytest.mark.parametrize("factor", [Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN])
def test_members_of_an_account_that_requires_two_factors_must_set_one_up(
    alice: Membership, bob: Membership, clock: Clock, factor: str
) -> None:
    alice.account.require_mfa = True
    alice.account.save(update_fields=["require_mfa"])
    alices, bobs = browser(alice.user), browser(bob.user)

    assert alices.get("/")["Location"] == MFA_INDEX
    assert alices.get(SECURITY)["Location"] == MFA_INDEX
    assert MFA_MESSAGE in alices.get(MFA_INDEX).content.decode()
    assert bobs.get("/").status_code == 200  # Bob's account does not require it
    assert MFA_MESSAGE not in bobs.get(MFA_INDEX).content.decode()
    # Recovery codes alone are no second factor.
    RecoveryCodes.activate(alice.user)
    assert alices.get("/")["Location"] == MFA_INDEX

    if factor == Authenticator.Type.TOTP:
        TOTP.activate(alice.user, generate_totp_secret())
    else:  # a passkey counts as well
        Authenticator.objects.create(user=alice.user, type=factor, data={"name": "Phone", "credential": {}})

    assert alices.get("/").status_code == 200


def test_staff_acting_as_a_customer_are_not_asked_for_the_customers_second_factor(
    settings, alice: Membership, clock: Clock
) -> None:
    settings.STAFF_REQUIRE_MFA = True
    alice.account.require_mfa = True
    alice.account.save(update_fields=["require_mfa"])
    staff = User.objects.create_superuser("ops@example.com", PASSWORD)
    TOTP.activate(staff, generate_totp_secret())
    client = browser(staff)

    assert client.post(reverse("staff-impersonate", args=[alice.user.pk]))["Location"] == "/"
    response = client.get(SECURITY)

    assert response.status_code == 200
    assert [(row.device, row.is_current, row.by_staff) for row in response.context["sessions"]] == [
        ("Chrome on Linux", True, True)
    ]
    assert "Opened by staff" in response.content.decode()

    client.post(reverse("staff-impersonate-end"))
    assert list(UserSession.objects.values_list("session_key", "user_id", "impersonator_id")) == [
        (session_key(client), staff.pk, None)
    ]


def test_turning_on_an_authenticator_app_asks_for_the_password_again_after_five_minutes(
    alice: Membership, clock: Clock
) -> None:
    client = Client()
    assert client.post("/accounts/login/", {"login": "alice@example.org", "password": PASSWORD}).status_code == 302

    # allauth counts only a confirmation of the password (or of a factor) as recent.
    assert client.get(TOTP_ACTIVATE)["Location"] == f"{REAUTHENTICATE}?next=%2Faccounts%2F2fa%2Ftotp%2Factivate%2F"
    response = client.post(f"{REAUTHENTICATE}?next={TOTP_ACTIVATE}", {"password": PASSWORD})
    assert response["Location"] == TOTP_ACTIVATE
    assert client.get(TOTP_ACTIVATE).status_code == 200

    # allauth reads the real clock: the margins leave room for a slow machine between the steps.
    age_authentications(client, seconds=280)
    assert client.get(TOTP_ACTIVATE).status_code == 200
    age_authentications(client, seconds=25)  # 305 seconds: more than ACCOUNT_REAUTHENTICATION_TIMEOUT
    response = client.get(TOTP_ACTIVATE)
    assert response["Location"] == f"{REAUTHENTICATE}?next=%2Faccounts%2F2fa%2Ftotp%2Factivate%2F"
    assert not Authenticator.objects.filter(user=alice.user).exists()


def age_authentications(client: Client, *, seconds: int) -> None:
    session = client.session
    records = session["account_authentication_methods"]
    for record in records:
        record["at"] -= seconds
    session["account_authentication_methods"] = records
    session.save()


def test_turning_on_an_authenticator_app_end_to_end(alice: Membership, clock: Clock) -> None:
    client = browser(alice.user)
    reauthenticate(client)

    response = client.get(TOTP_ACTIVATE)
    assert response.status_code == 200
    secret = response.context["form"].secret
    html = response.content.decode()
    assert '<img src="data:image/svg+xml;base64,' in html
    assert f'<code class="secret" aria-describedby="totp-secret-help">{secret}</code>' in html

    wrong = client.post(TOTP_ACTIVATE, {"code": "000000" if hotp_now(secret) != "000000" else "111111"})
    assert wrong.status_code == 200
    assert wrong.context["form"].errors == {"code": ["Incorrect code."]}
    assert not Authenticator.objects.filter(user=alice.user).exists()

    response = client.post(TOTP_ACTIVATE, {"code": hotp_now(secret)})

    assert response["Location"] == "/accounts/2fa/recovery-codes/"
    assert sorted(Authenticator.objects.filter(user=alice.user).values_list("type", flat=True)) == [
        "recovery_codes",
        "totp",
    ]
    codes = client.get("/accounts/2fa/recovery-codes/")
    assert codes.status_code == 200
    assert len(codes.context["unused_codes"]) == 10
    assert all(code in codes.content.decode() for code in codes.context["unused_codes"])


def test_logging_in_with_an_authenticator_app_asks_for_a_code_in_the_login_card(
    alice: Membership, clock: Clock
) -> None:
    secret = generate_totp_secret()
    TOTP.activate(alice.user, secret)
    client = Client(headers={"user-agent": FIREFOX_WINDOWS}, REMOTE_ADDR="203.0.113.9")

    response = client.post("/accounts/login/", {"login": "alice@example.org", "password": PASSWORD})

    assert response["Location"] == "/accounts/2fa/authenticate/"
    page = client.get("/accounts/2fa/authenticate/")
    html = page.content.decode()
    assert '<div class="auth-card">' in html
    assert 'name="code"' in html
    assert not re.search(r"\sstyle=", html)
    assert all("src=" in attrs or 'type="application/json"' in attrs for attrs in SCRIPT.findall(html))
    assert UserSession.objects.count() == 0  # not logged in yet

    response = client.post("/accounts/2fa/authenticate/", {"code": hotp_now(secret)})

    assert response["Location"] == "/"
    assert list(UserSession.objects.values_list("session_key", "user_id", "user_agent")) == [
        (session_key(client), alice.user.pk, FIREFOX_WINDOWS)
    ]
    assert client.get("/").status_code == 200


def hotp_now(secret: str) -> str:
    from allauth.mfa.totp.internal.auth import yield_hotp_counters_from_time

    counter = next(yield_hotp_counters_from_time())
    return format_hotp_value(hotp_value(secret, counter))


# --- Password -------------------------------------------------------------------------------


def test_the_password_page_has_the_live_strength_meter(alice: Membership, clock: Clock) -> None:
    response = browser(alice.user).get("/accounts/password/change/")

    assert response.status_code == 200
    attrs = response.context["form"].fields["password1"].widget.attrs
    assert (attrs["hx-post"], attrs["hx-target"], attrs["autocomplete"]) == (
        "/accounts/password-strength/",
        "#password-meter",
        "new-password",
    )
    html = response.content.decode()
    # Described by the meter and by its help text (the validators' rules).
    assert 'aria-describedby="password-meter id_password1_helptext"' in html
    assert 'hx-post="/accounts/password-strength/"' in html
    # The meter's slot comes right after the new password's input.
    new_password = html.index('name="password1"')
    assert html.index('<div id="password-meter" class="meter-slot" aria-live="polite"></div>') > new_password
    assert html.index('<div id="password-meter"') < html.index('name="password2"')
    assert 'action="/account/security/sessions/end-others/"' in html


def test_a_70_character_passphrase_is_accepted_and_other_sessions_end(alice: Membership, clock: Clock) -> None:
    assert len(PASSPHRASE_70) == 70
    phone = browser(alice.user, user_agent=SAFARI_IPHONE)
    laptop = browser(alice.user)
    phone_key, laptop_key = session_key(phone), session_key(laptop)
    clock.now = T0 + dt.timedelta(minutes=10)

    response = laptop.post(
        "/accounts/password/change/",
        {"oldpassword": PASSWORD, "password1": PASSPHRASE_70, "password2": PASSPHRASE_70},
    )

    assert response.status_code == 302
    assert response["Location"] == "/accounts/password/change/"
    assert messages_of(response) == ["Password successfully changed."]
    assert User.objects.get(pk=alice.user.pk).check_password(PASSPHRASE_70)
    # This browser stays logged in under a new session id; its row followed it.
    assert session_key(laptop) != laptop_key
    assert list(UserSession.objects.values_list("session_key", "created_at", "last_seen")) == [
        (session_key(laptop), T0, T0 + dt.timedelta(minutes=10))
    ]
    assert not Session.objects.filter(session_key__in=[phone_key, laptop_key]).exists()
    assert is_logged_out(phone)
    assert laptop.get(SECURITY).status_code == 200


def test_a_weak_password_is_refused_and_nothing_changes(alice: Membership, clock: Clock) -> None:
    phone = browser(alice.user, user_agent=SAFARI_IPHONE)
    laptop = browser(alice.user)
    before = sessions_table()

    response = laptop.post(
        "/accounts/password/change/",
        {"oldpassword": PASSWORD, "password1": "password123", "password2": "password123"},
    )

    assert response.status_code == 200
    assert response.context["form"].errors == {
        "password1": [
            "This password is too common.",
            "This password is too easy to guess. This is a very common password. "
            "Add another word or two. Uncommon words are better.",
        ]
    }
    assert User.objects.get(pk=alice.user.pk).check_password(PASSWORD)
    assert sessions_table() == before
    assert phone.get("/").status_code == 200


def test_a_user_without_a_password_sets_one_with_the_meter(alice: Membership, clock: Clock) -> None:
    user = User.objects.get(pk=alice.user.pk)
    user.set_unusable_password()
    user.save()
    laptop = browser(user)

    assert laptop.get("/accounts/password/change/")["Location"] == "/accounts/password/set/"
    response = laptop.get("/accounts/password/set/")
    assert response.status_code == 200
    assert 'hx-post="/accounts/password-strength/"' in response.content.decode()

    response = laptop.post("/accounts/password/set/", {"password1": PASSPHRASE_70, "password2": PASSPHRASE_70})

    assert response.status_code == 302
    assert User.objects.get(pk=alice.user.pk).check_password(PASSPHRASE_70)
    assert sessions_table() == [(session_key(laptop), alice.user.pk)]


# --- allauth's pages in the client area ------------------------------------------------------

SCRIPT = re.compile(r"<script\b([^>]*)>")


def assert_in_client_area_without_inline_code(client: Client, url: str) -> None:
    response = client.get(url)
    assert (url, response.status_code) == (url, 200)
    html = response.content.decode()
    assert '<nav class="sidenav"' in html
    assert 'class="nav-link nav-account" aria-current="page"' in html
    assert f'<a href="{SECURITY}" aria-current="page">Security</a>' in html
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert not re.search(r"\sstyle=", html), url
    for attributes in SCRIPT.findall(html):
        source = re.search(r'src="([^"]+)"', attributes)
        if source is None:
            # Data for the scripts, which the browser does not run.
            assert 'type="application/json"' in attributes, (url, attributes)
            continue
        assert source.group(1).startswith("/static/"), (url, attributes)
        assert client.get(source.group(1)).status_code == 200, source.group(1)


def test_allauth_pages_are_drawn_in_the_client_area_without_inline_code(alice: Membership, clock: Clock) -> None:
    client = browser(alice.user)
    assert_in_client_area_without_inline_code(client, REAUTHENTICATE)
    reauthenticate(client)
    for url in ("/accounts/password/change/", MFA_INDEX, TOTP_ACTIVATE, "/accounts/2fa/webauthn/add/"):
        assert_in_client_area_without_inline_code(client, url)

    TOTP.activate(alice.user, generate_totp_secret())
    RecoveryCodes.activate(alice.user)
    Authenticator.objects.create(
        user=alice.user, type=Authenticator.Type.WEBAUTHN, data={"name": "YubiKey 5", "credential": {}}
    )
    for url in (
        "/accounts/2fa/totp/deactivate/",
        "/accounts/2fa/recovery-codes/",
        "/accounts/2fa/recovery-codes/generate/",
        "/accounts/2fa/webauthn/",
        "/accounts/2fa/reauthenticate/",
    ):
        assert_in_client_area_without_inline_code(client, url)


def test_confirming_with_a_passkey_is_drawn_in_the_client_area_without_inline_code(
    alice: Membership, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A stored credential that a browser really made is out of reach here; the page only
    # needs the options allauth passes to the browser's WebAuthn API.
    monkeypatch.setattr(
        "allauth.mfa.webauthn.internal.auth.begin_authentication",
        lambda user: {"publicKey": {"challenge": "c2VjdXJpdHk", "allowCredentials": []}},
    )
    Authenticator.objects.create(
        user=alice.user, type=Authenticator.Type.WEBAUTHN, data={"name": "YubiKey 5", "credential": {}}
    )
    client = browser(alice.user)

    assert_in_client_area_without_inline_code(client, "/accounts/2fa/webauthn/reauthenticate/")
    html = client.get("/accounts/2fa/webauthn/reauthenticate/").content.decode()
    assert '<script id="js_data" type="application/json">{"request_options": {"publicKey": ' in html
