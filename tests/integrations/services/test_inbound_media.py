"""Inbound media downloaded from the provider into Django storage, size limited (the sandbox's
download operation here; Meta's and Twilio's own requests are tested in tests/providers)."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage
from rest_framework.authtoken.models import Token

from integrations.models import Membership, Message
from integrations.services import media
from integrations.services.webhooks import webhook_apply_events
from providers import events
from providers.values import Attachment, InboundEvent
from tests.factories import make_integration, make_membership, make_user

pytestmark = pytest.mark.django_db
CONTACT = "+5511987654321"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    return tmp_path


def receive(integration, *urls, message_id="in-1"):
    webhook_apply_events(integration=integration, parsed=[InboundEvent(
        kind=events.INBOUND_MESSAGE, provider_message_id=message_id, from_number=CONTACT, body="look",
        attachments=tuple(Attachment(url=url, caption="my photo") for url in urls))])
    return Message.objects.get(provider_message_id=message_id)


def test_the_webhook_queues_the_download_and_the_files_are_kept(organization, django_capture_on_commit_callbacks, media_root):
    integration = make_integration(organization=organization, config={"media_size": 2048})
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        message = receive(integration, "sandbox-media:photo.jpg", "sandbox-media:contract.pdf")
    assert len(callbacks) == 1  # the download, queued once the webhook's transaction commits

    assert media.media_download_inbound(organization_id=organization.pk, message_id=message.pk) == 2

    message.refresh_from_db()
    photo, contract = message.attachments
    assert photo["size"] == 2048 and photo["mime_type"] == "image/jpeg" and photo["caption"] == "my photo"
    assert photo["stored_path"].startswith(f"inbound-media/{organization.pk}/{message.pk}/0-")
    assert default_storage.size(photo["stored_path"]) == 2048
    assert contract["mime_type"] == "application/pdf"
    # Run again (a redelivered task): nothing is fetched twice.
    assert media.media_download_inbound(organization_id=organization.pk, message_id=message.pk) == 0


def test_a_file_over_the_limit_is_not_kept(organization, settings):
    settings.INBOUND_MEDIA_MAX_BYTES = 1000
    integration = make_integration(organization=organization, config={"media_size": 1001})
    message = receive(integration, "sandbox-media:big.mp4")
    assert media.media_download_inbound(organization_id=organization.pk, message_id=message.pk) == 0
    message.refresh_from_db()
    assert message.attachments[0]["download_error"] == events.ERROR_MEDIA_TOO_LARGE
    assert "stored_path" not in message.attachments[0]


def test_an_outage_is_retried_and_what_was_kept_stays(organization):
    integration = make_integration(organization=organization, config={"failure_rate": 1, "failure_mode": "unavailable"})
    message = receive(integration, "sandbox-media:photo.jpg")
    with pytest.raises(media.MediaDeferred):
        media.media_download_inbound(organization_id=organization.pk, message_id=message.pk)
    message.refresh_from_db()
    assert "stored_path" not in message.attachments[0] and "download_error" not in message.attachments[0]


def test_providers_without_downloads_keep_their_links(organization, django_capture_on_commit_callbacks):
    bridge = make_integration(organization=organization, provider_name="whatsapp_web",
                              config={"base_url": "http://127.0.0.1:9/"}, credentials={"api_key": "k" * 12})
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        message = receive(bridge, "https://bridge.example/files/a.jpg")
    assert callbacks == [] and message.attachments[0]["url"] == "https://bridge.example/files/a.jpg"


def test_the_api_hands_the_kept_file_to_members_only(client, organization, other_organization):
    integration = make_integration(organization=organization, config={"media_size": 64})
    message = receive(integration, "sandbox-media:photo.jpg")
    media.media_download_inbound(organization_id=organization.pk, message_id=message.pk)
    viewer = make_user(username="viewer-media", staff=False)
    make_membership(user=viewer, organization=organization, role=Membership.Role.VIEWER)
    headers = {"HTTP_AUTHORIZATION": f"Token {Token.objects.get_or_create(user=viewer)[0].key}"}

    response = client.get(f"/api/v1/messages/{message.pk}/attachments/0/", **headers)
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert len(b"".join(response.streaming_content)) == 64
    assert client.get(f"/api/v1/messages/{message.pk}/attachments/1/", **headers).status_code == 404

    stranger = make_user(username="stranger-media", staff=False)
    make_membership(user=stranger, organization=other_organization, role=Membership.Role.ADMIN)
    other = {"HTTP_AUTHORIZATION": f"Token {Token.objects.get_or_create(user=stranger)[0].key}"}
    assert client.get(f"/api/v1/messages/{message.pk}/attachments/0/", **other).status_code == 404


def test_a_meta_image_from_its_webhook_is_fetched_and_kept(client, organization, django_capture_on_commit_callbacks):
    """pywa's image webhook, signed and posted; Meta's media lookup and file served by the
    loopback server; the task stores the bytes."""
    import hashlib
    import hmac

    from django.urls import reverse

    from tests.providers.fixture_files import load, raw
    from tests.providers.loopback import LoopbackServer, Reply

    secret, jpeg = "app-secret-media-0101", b"\xff\xd8\xff" + b"j" * 200
    with LoopbackServer() as meta:
        meta.route("GET", "/v21.0/65463453", Reply(json={**load("meta", "media_info.json"), "id": "65463453",
                                                         "url": f"{meta.url}/whatsapp_business/attachments/", "file_size": len(jpeg)}))
        meta.route("GET", "/whatsapp_business/attachments/", Reply(body=jpeg, headers={"Content-Type": "image/jpeg"}))
        integration = make_integration(
            organization=organization, provider_name="meta_cloud",
            config={"phone_number_id": "1122334455667", "api_version": "v21.0", "base_url": meta.url},
            credentials={"access_token": "EAAG-media-token-0123", "app_secret": secret},
        )
        body = raw("meta", "webhook_message_image.json")
        signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            response = client.post(reverse("webhooks:receive", kwargs={"integration_id": integration.pk}), data=body,
                                   content_type="application/json", HTTP_X_HUB_SIGNATURE_256=signature)
        assert response.status_code == 200 and len(callbacks) == 1
        message = Message.objects.get(organization=organization, direction=Message.Direction.INBOUND)
        assert message.attachments[0]["url"] == "meta-media:65463453"

        assert media.media_download_inbound(organization_id=organization.pk, message_id=message.pk) == 1

    message.refresh_from_db()
    kept = message.attachments[0]
    assert kept["size"] == len(jpeg) and kept["mime_type"] == "image/jpeg"
    with default_storage.open(kept["stored_path"]) as stored:
        assert stored.read() == jpeg


@pytest.mark.parametrize("filename", ["", "..", "///", "../../etc/passwd", "ünïcode naïve.pdf"])
def test_any_file_name_gives_a_safe_storage_name(organization, filename):
    from types import SimpleNamespace

    name = media._storage_name(SimpleNamespace(organization_id=organization.pk, pk="m1"), 0, {"filename": filename},
                               SimpleNamespace(filename="", mime_type="application/pdf"))
    assert name.startswith(f"inbound-media/{organization.pk}/m1/0-")
    assert "/" not in name.split("/", 3)[3] and name.split("/", 3)[3] not in ("0-", "0-.", "0-..")
