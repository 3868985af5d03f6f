import pytest
from django.urls import reverse


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["dashboard", "billing", "services", "domains", "support", "account"])
def test_each_page_renders_for_an_owner_with_security_headers(alice_client, name):
    response = alice_client.get(reverse(f"portal:{name}"))
    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    body = response.content.decode()
    assert "<script>" not in body  # no inline script anywhere
    assert 'aria-current="page"' in body


@pytest.mark.django_db
def test_billing_shows_the_details_printed_on_invoices(alice_client):
    body = alice_client.get(reverse("portal:billing")).content.decode()
    for text in ["Alice Servicios S.L.", "ESB12345674", "Madrid", "EUR", "No invoices yet"]:
        assert text in body


@pytest.mark.django_db
def test_errors_are_translated_pages(client, alice):
    client.force_login(alice.user)
    response = client.get("/no-such-page/", headers={"accept-language": "en"})
    assert response.status_code == 404
    assert "Page not found" in response.content.decode()


@pytest.mark.django_db
def test_the_api_publishes_its_schema(client):
    schema = client.get("/api/v1/openapi.json").json()
    assert schema["info"]["title"] == "Sportello API"
    assert client.get("/api/v1/status").json() == {"name": "sportello", "version": "0.1.0"}
