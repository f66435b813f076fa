"""Inbound media: what a contact sent (an image, a voice note, a document), downloaded from the
provider into Django's default storage, never larger than ``INBOUND_MEDIA_MAX_BYTES``.

The webhook stores the message with the provider's references (Meta: ``meta-media:<id>``;
Twilio: its authenticated media URL) and, for providers that can download
(``providers.features.MEDIA_DOWNLOAD``), queues ``download_inbound_media`` once the webhook's
transaction commits. Each attachment then gets ``stored_path`` and ``size`` (and the provider's
MIME type and file name when the webhook had none), or ``download_error`` with a stable code
(``media_too_large``, the provider's refusal). An outage is retried by the task; attachments
already kept are not fetched again. Bridges' media stay links, as the bridge gave them.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils.text import get_valid_filename

from integrations.models import Message, OrganizationIntegration
from integrations.services.queue import enqueue_on_commit
from providers import features
from providers.errors import ProviderError, ProviderUnavailable

logger = logging.getLogger(__name__)

DOWNLOAD_TASK = "integrations.tasks.download_inbound_media"
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "audio/ogg": "ogg", "audio/mpeg": "mp3",
              "video/mp4": "mp4", "application/pdf": "pdf"}


class MediaDeferred(Exception):
    """The provider could not be reached for at least one attachment; the task retries."""


def media_schedule_download(*, integration: OrganizationIntegration, message: Message) -> bool:
    """Queue the download of an inbound message's attachments when its provider can fetch them."""
    if not message.attachments or not integration.provider_class().supports(features.MEDIA_DOWNLOAD):
        return False
    enqueue_on_commit(DOWNLOAD_TASK, str(message.organization_id), str(message.pk))
    return True


def _storage_name(message: Message, index: int, attachment: dict[str, Any], media: Any) -> str:
    try:
        filename = get_valid_filename(attachment.get("filename") or media.filename or "")[:80]
    except SuspiciousFileOperation:  # nothing usable left of the name ("", "..", only symbols)
        filename = ""
    if not filename:
        mime = (attachment.get("mime_type") or media.mime_type or "").split(";", 1)[0].strip()
        filename = f"media.{EXTENSIONS.get(mime, 'bin')}"
    return f"inbound-media/{message.organization_id}/{message.pk}/{index}-{filename}"


def media_download_inbound(*, organization_id: Any, message_id: Any) -> int:
    """Download what is still missing of one inbound message's attachments; returns how many
    were kept now. Raises ``MediaDeferred`` after keeping what it could when a provider was
    unreachable. A message another worker is handling is left to it."""
    limit = settings.INBOUND_MEDIA_MAX_BYTES
    with transaction.atomic():
        message = (
            Message.objects.for_org(organization_id).select_for_update(skip_locked=True, of=("self",))
            .select_related("integration").filter(pk=message_id, direction=Message.Direction.INBOUND).first()
        )
        if message is None or message.integration is None:
            return 0
        adapter = message.integration.adapter()
        attachments = [dict(item) for item in message.attachments or ()]
        kept, outage = 0, ""
        for index, attachment in enumerate(attachments):
            if attachment.get("stored_path") or attachment.get("download_error") or not attachment.get("url"):
                continue
            try:
                media = adapter.download_media(attachment["url"], max_bytes=limit)
            except ProviderUnavailable as exc:
                outage = adapter.scrub(str(exc))
                continue
            except ProviderError as exc:
                attachment["download_error"] = (exc.code or "provider_error")[:64]
                logger.info("Inbound media %s/%s not kept: %s", message.pk, index, adapter.scrub(str(exc)))
                continue
            name = default_storage.save(_storage_name(message, index, attachment, media), ContentFile(media.content))
            attachment.update(stored_path=name, size=media.size, mime_type=attachment.get("mime_type") or media.mime_type,
                              filename=attachment.get("filename") or media.filename)
            kept += 1
        Message.objects.filter(pk=message.pk).update(attachments=attachments)
    if outage:
        raise MediaDeferred(outage)
    return kept


def media_open(*, message: Message, index: int):
    """(file, MIME type, file name) of a kept attachment, or None."""
    attachments = message.attachments or []
    if not 0 <= index < len(attachments) or not attachments[index].get("stored_path"):
        return None
    attachment = attachments[index]
    return (default_storage.open(attachment["stored_path"], "rb"), attachment.get("mime_type") or "application/octet-stream",
            attachment.get("filename") or attachment["stored_path"].rsplit("/", 1)[-1])
