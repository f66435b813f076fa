"""Accepting messages and calls for delivery.

``send_message`` / ``place_call`` store the row (``queued``) and schedule the Celery task when
the caller's transaction commits (``queue.enqueue_on_commit``), so a worker never looks for a row
that is not visible yet and a rolled-back request sends nothing; a broker outage leaves the row
``queued`` for the sweeper. The task itself (``integrations.tasks``) runs
``delivery.dispatch``: claim, route at send time, fail over, retry.

Idempotency: the same ``idempotency_key`` in the same organization returns the message stored
the first time and schedules nothing. Two concurrent requests with one key are settled by the
database's unique constraint (``message_unique_idempotency_key``): the loser's insert fails,
inside a savepoint, and it returns the winner's row.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from integrations.models import Call, Channel, Message, Organization
from integrations.services.queue import enqueue_on_commit
from providers.values import Attachment, normalize_phone

DELIVER_MESSAGE_TASK = "integrations.tasks.deliver_message"
DELIVER_CALL_TASK = "integrations.tasks.deliver_call"

MAX_IDEMPOTENCY_KEY_LENGTH = 255
MAX_REFERENCE_LENGTH = 255


def _clean_phone(value: Any, *, field: str, required: bool = True) -> str:
    if value in (None, ""):
        if required:
            raise ValidationError({field: ["This field is required."]})
        return ""
    try:
        return normalize_phone(str(value))
    except ValueError as exc:
        raise ValidationError({field: [str(exc)]}) from None


def _clean_attachments(attachments: Iterable[Any]) -> list[dict[str, str]]:
    cleaned = []
    for position, item in enumerate(attachments or ()):
        if isinstance(item, Attachment):
            attachment = item
        elif isinstance(item, Mapping):
            attachment = Attachment.from_dict(item)
        else:
            raise ValidationError({"attachments": [f"Attachment {position + 1} must be an object with a url."]})
        if not attachment.url.startswith(("http://", "https://")):
            raise ValidationError({"attachments": [f"Attachment {position + 1} needs an http(s) url."]})
        cleaned.append(
            {
                "url": attachment.url,
                "mime_type": attachment.mime_type,
                "caption": attachment.caption,
                "filename": attachment.filename,
            }
        )
    return cleaned


def _clean_key(idempotency_key: str | None) -> str | None:
    if idempotency_key in (None, ""):
        return None
    key = str(idempotency_key)
    if len(key) > MAX_IDEMPOTENCY_KEY_LENGTH:
        raise ValidationError(
            {"idempotency_key": [f"At most {MAX_IDEMPOTENCY_KEY_LENGTH} characters."]}
        )
    return key


def _clean_reference(reference: str | None) -> str:
    reference = "" if reference is None else str(reference)
    if len(reference) > MAX_REFERENCE_LENGTH:
        raise ValidationError({"reference": [f"At most {MAX_REFERENCE_LENGTH} characters."]})
    return reference


def _user_or_none(actor: Any):
    return actor if getattr(actor, "pk", None) and not isinstance(actor, str) else None


def send_message(
    *,
    organization: Organization,
    channel: str,
    to: str,
    body: str,
    attachments: Iterable[Any] = (),
    reference: str | None = None,
    idempotency_key: str | None = None,
    actor: Any,
) -> tuple[Message, bool]:
    """Store an outbound message and schedule its delivery. Returns ``(message, created)``.

    ``created`` is False when ``idempotency_key`` was used before in this organization: the
    stored message is returned as it is and nothing new is scheduled. Raises
    ``ValidationError`` (field → messages) for a bad channel, recipient or content.
    """
    errors: dict[str, list[str]] = {}
    if channel not in (Channel.WHATSAPP,):
        errors["channel"] = [f"Messages go over {Channel.WHATSAPP.value}; '{channel}' is not a messaging channel."]
    try:
        to_e164 = _clean_phone(to, field="to")
    except ValidationError as exc:
        errors.update(exc.message_dict)
        to_e164 = ""
    try:
        cleaned_attachments = _clean_attachments(attachments)
    except ValidationError as exc:
        errors.update(exc.message_dict)
        cleaned_attachments = []
    body = "" if body is None else str(body)
    if not body.strip() and not cleaned_attachments and "attachments" not in errors:
        errors["body"] = ["A message needs a body or an attachment."]
    try:
        key = _clean_key(idempotency_key)
        reference_value = _clean_reference(reference)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)

    return _store_and_schedule(
        Message,
        DELIVER_MESSAGE_TASK,
        organization=organization,
        key=key,
        direction=Message.Direction.OUTBOUND,
        channel=channel,
        to=to_e164,
        body=body,
        attachments=cleaned_attachments,
        reference=reference_value,
        created_by=_user_or_none(actor),
    )


def place_call(
    *,
    organization: Organization,
    to: str,
    from_number: str | None = None,
    twiml: str | None = None,
    reference: str | None = None,
    idempotency_key: str | None = None,
    actor: Any,
) -> tuple[Call, bool]:
    """Store an outbound call and schedule it. Returns ``(call, created)``; same key rules as
    ``send_message``."""
    errors: dict[str, list[str]] = {}
    phones: dict[str, str] = {}
    for field, value, required in (("to", to, True), ("from_number", from_number, False)):
        try:
            phones[field] = _clean_phone(value, field=field, required=required)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    try:
        key = _clean_key(idempotency_key)
        reference_value = _clean_reference(reference)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    return _store_and_schedule(
        Call,
        DELIVER_CALL_TASK,
        organization=organization,
        key=key,
        direction=Message.Direction.OUTBOUND,
        to=phones["to"],
        from_number=phones["from_number"],
        twiml=twiml or "",
        reference=reference_value,
        created_by=_user_or_none(actor),
    )


def _store_and_schedule(model, task_name: str, *, organization: Organization, key: str | None, **fields):
    """Create the row and schedule its delivery, or return the row stored earlier under the same
    idempotency key. Returns ``(row, created)``."""
    if key is not None:
        existing = model.objects.for_org(organization).filter(idempotency_key=key).first()
        if existing is not None:
            return existing, False
    try:
        with transaction.atomic():
            row = model.objects.create(organization=organization, idempotency_key=key, **fields)
            enqueue_on_commit(task_name, str(row.pk))
    except IntegrityError:
        if key is None:
            raise
        # Another request with this key won the race; its row is committed by now.
        return model.objects.for_org(organization).get(idempotency_key=key), False
    return row, True
