"""Finding 10 end to end: the webhook endpoint, not only the parsers, never answers 500.

tests/providers/test_webhook_fuzz.py fuzzes every parser through the adapter's entry points;
this runs validly signed fuzzed bodies through the endpoint itself (the view, the service, the
database), where a 100k-deep body still answered 500 because the service called the raw parser.
"""

from __future__ import annotations

import hashlib
import hmac

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings

from providers import sandbox
from tests.factories import make_integration
from tests.providers.test_webhook_fuzz import bodies

EXAMPLES = 60
APP_SECRET = "meta-app-secret-fuzz-0123456789"


@pytest.mark.django_db
@pytest.mark.parametrize("provider", ["sandbox_whatsapp", "meta_cloud"])
def test_validly_signed_fuzzed_bodies_are_never_a_500(organization, provider):
    if provider == "meta_cloud":
        integration = make_integration(organization=organization, provider_name="meta_cloud",
                                       config={"phone_number_id": "106540352242922"},
                                       credentials={"access_token": "EAAG-fuzz-token-0123", "app_secret": APP_SECRET})
    else:
        integration = make_integration(organization=organization, config={"label": "fuzz"})
    path = reverse("webhooks:receive", kwargs={"integration_id": integration.pk})
    client = Client(raise_request_exception=False)

    def signed(body: bytes) -> dict:
        if provider == "meta_cloud":
            return {"HTTP_X_HUB_SIGNATURE_256": "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()}
        return {"HTTP_X_SANDBOX_SIGNATURE": sandbox.sign(integration.webhook_secret, body)}

    seen: set[int] = set()

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
    @given(body=bodies)
    def check(body):
        response = client.post(path, data=body, content_type="application/json", **signed(body))
        seen.add(response.status_code)
        assert response.status_code in (200, 400), response.status_code

    check()
    assert seen  # the property ran
