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

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from integrations.errors import IdempotencyKeyReused, OutsideServiceWindow
from integrations.models import Call, Channel, Message, Organization
from integrations.services.delivery import content, queue_depth, window
from integrations.services.delivery.idempotency import replay
from integrations.services.policies.channel_policy import clean_tags
from integrations.services.queue import enqueue_on_commit
from providers.values import Attachment, normalize_phone, render

DELIVER_MESSAGE_TASK = "integrations.tasks.deliver_message"
DELIVER_CALL_TASK = "integrations.tasks.deliver_call"
DELIVER_MESSAGE_BATCH_TASK = "integrations.tasks.deliver_message_batch"

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


def _clean_message(*, channel: str, to: str, body: str, attachments: Iterable[Any],
                   reference: str | None, idempotency_key: str | None, tags: Any = (),
                   organization: Organization | None = None, template: Mapping[str, Any] | None = None,
                   interactive: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The fields of an outbound message as stored, or ``ValidationError`` (field → messages).
    One validation for a single send and for every item of a batch. A ``template`` send
    (``_template_fields``) needs the ``organization`` whose template it is."""
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
    business_fields: dict[str, Any] = {}
    if template is not None or interactive is not None:
        try:
            business_fields = _business_fields(organization, template, interactive, body=body, attachments=cleaned_attachments)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    elif not body.strip() and not cleaned_attachments and "attachments" not in errors:
        errors["body"] = ["A message needs a body or an attachment."]
    key = reference_value = None
    try:
        key = _clean_key(idempotency_key)
        reference_value = _clean_reference(reference)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    cleaned_tags: list[str] = []
    try:
        cleaned_tags = clean_tags(list(tags) if isinstance(tags, tuple) else tags)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    return {
        "idempotency_key": key,
        "direction": Message.Direction.OUTBOUND,
        "channel": channel,
        "to": to_e164,
        "body": body,
        "attachments": cleaned_attachments,
        "reference": reference_value,
        "tags": cleaned_tags,
        **business_fields,
    }


def _check_window(organization: Organization, key: str | None, fields: dict[str, Any]) -> None:
    """``OutsideServiceWindow`` for a free-form message no integration can deliver now; the
    fallback template's fields when the organization has one (``window.enforce_windows``). A
    replayed key answers with the stored message, whatever the window says now."""
    if key is not None and Message.objects.for_org(organization).filter(idempotency_key=key).exists():
        return
    refusal = window.enforce_windows(organization=organization, items=[fields])[0]
    if refusal:
        raise OutsideServiceWindow(refusal)


def _check_windows_of_batch(organization: Organization, cleaned: list[tuple[int, dict[str, Any]]],
                            results: list) -> list[tuple[int, dict[str, Any]]]:
    """``_check_window`` for a batch: a refused item is answered invalid (on ``to``) and dropped."""
    keys = [fields["idempotency_key"] for _, fields in cleaned if fields["idempotency_key"] is not None]
    replayed = set(_stored_by_key(organization, keys))
    checked = [(index, fields) for index, fields in cleaned if fields["idempotency_key"] not in replayed]
    refusals = window.enforce_windows(organization=organization, items=[fields for _, fields in checked])
    refused = {index for (index, _fields), refusal in zip(checked, refusals, strict=True) if refusal}
    for (index, _fields), refusal in zip(checked, refusals, strict=True):
        if refusal:
            results[index] = BatchItemResult(errors={"to": [refusal]})
    return [(index, fields) for index, fields in cleaned if index not in refused]


def _business_fields(organization: Organization, template: Mapping[str, Any] | None, interactive: Mapping[str, Any] | None,
                     *, body: str, attachments: list) -> dict[str, Any]:
    """A template send's row fields: the template, its variables, its category (which prices
    the message) and its rendered text as the body (what history shows, and what bridges send).
    An interactive message's: it as stored, and its numbered text as the body."""
    field = "template" if template is not None else "interactive"
    if body.strip() or attachments or (template is not None and interactive is not None):
        raise ValidationError({field: [_("Send one of a body (with attachments), a template or an interactive message.")]})
    if interactive is not None:
        stored, text = content.clean_interactive(interactive)
        return {"interactive": stored, "body": text}
    found, variables = content.clean_template(organization=organization, template=template)
    return {"template": found, "template_variables": variables, "category": found.category,
            "template_parameters": content.clean_template_parameters(found, template),
            "body": render(found.body, variables)}


def send_message(
    *,
    organization: Organization,
    channel: str,
    to: str,
    body: str,
    attachments: Iterable[Any] = (),
    reference: str | None = None,
    idempotency_key: str | None = None,
    tags: Iterable[str] = (),
    actor: Any,
    template: Mapping[str, Any] | None = None,
    interactive: Mapping[str, Any] | None = None,
) -> tuple[Message, bool]:
    """Store an outbound message and schedule its delivery. Returns ``(message, created)``.

    ``created`` is False when ``idempotency_key`` was used before in this organization: the
    stored message is returned as it is and nothing new is scheduled. ``tags`` are what the
    channel's routing-policy rules match (docs/POLICIES.md). Raises
    ``ValidationError`` (field → messages) for a bad channel, recipient or content, and
    ``QueueFull`` when the organization's queue is at its depth limit, and
    ``OutsideServiceWindow`` for free text that no integration could deliver now. ``template``
    (``{"name", "language", "variables"}``) sends one of the organization's templates instead
    of ``body``; ``interactive`` (``{"body", "buttons"}`` or ``{"body", "button_text",
    "sections"}``) reply buttons or a list (docs/MESSAGING.md).
    """
    fields = _clean_message(channel=channel, to=to, body=body, attachments=attachments,
                            reference=reference, idempotency_key=idempotency_key, tags=tags,
                            organization=organization, template=template, interactive=interactive)
    key = fields.pop("idempotency_key")
    _check_window(organization, key, fields)
    return _store_and_schedule(
        Message, DELIVER_MESSAGE_TASK, organization=organization, key=key,
        created_by=_user_or_none(actor), **fields,
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
    idempotency key. Returns ``(row, created)``; ``IdempotencyKeyReused`` when that row was
    stored for a different request."""
    if key is not None:
        existing = model.objects.for_org(organization).filter(idempotency_key=key).first()
        if existing is not None:
            return replay(existing, fields)
    if model is Message:
        queue_depth.check(organization=organization, adding=1)
    try:
        with transaction.atomic():
            row = model.objects.create(organization=organization, idempotency_key=key, **fields)
            enqueue_on_commit(task_name, str(row.pk))
    except IntegrityError:
        if key is None:
            raise
        # Another request with this key won the race; its row is committed by now.
        return replay(model.objects.for_org(organization).get(idempotency_key=key), fields)
    if model is Message:
        queue_depth.added(organization=organization, count=1)
    return row, True


# --------------------------------------------------------------------------- many at once


@dataclass(frozen=True)
class BatchItemResult:
    """What became of one item of ``send_messages``: ``message`` with ``created`` (False: an
    idempotent replay), or ``errors`` (field → messages) and nothing written."""

    message: Message | None = None
    created: bool = False
    errors: dict[str, list[str]] | None = None


def _batch_replay(row: Message, fields: Mapping[str, Any]) -> BatchItemResult:
    try:
        return BatchItemResult(message=replay(row, fields)[0], created=False)
    except IdempotencyKeyReused as exc:
        return BatchItemResult(errors={"idempotency_key": [exc.message]})


def send_messages(*, organization: Organization, items: Sequence[Mapping[str, Any]], actor: Any) -> list[BatchItemResult]:
    """Store many outbound messages in one transaction and schedule their delivery.

    Each item takes the keyword arguments of ``send_message`` (``channel``, ``to``, ``body``,
    ``attachments``, ``reference``, ``idempotency_key``, ``tags``, ``template``, ``interactive``) and is validated exactly like it. An
    invalid item is answered with its errors and not written; the valid ones are stored. A key
    used before in this organization, or earlier in the same batch, returns the stored message
    (``created`` False) and schedules nothing. Raises ``QueueFull`` (nothing written) when the
    new messages would pass the organization's queue depth limit.
    """
    results: list[BatchItemResult | None] = [None] * len(items)
    cleaned: list[tuple[int, dict[str, Any]]] = []
    for index, item in enumerate(items):
        try:
            cleaned.append((index, _clean_message(
                channel=item.get("channel", Channel.WHATSAPP), to=item.get("to"), body=item.get("body", ""),
                attachments=item.get("attachments") or (), reference=item.get("reference"),
                idempotency_key=item.get("idempotency_key"), tags=item.get("tags") or (),
                organization=organization, template=item.get("template"), interactive=item.get("interactive"),
            )))
        except ValidationError as exc:
            results[index] = BatchItemResult(errors=exc.message_dict)
    cleaned = _check_windows_of_batch(organization, cleaned, results)
    created_by = _user_or_none(actor)
    with transaction.atomic():
        keys = {fields["idempotency_key"] for _, fields in cleaned if fields["idempotency_key"] is not None}
        by_key = _stored_by_key(organization, keys)
        new_rows: list[tuple[int, Message]] = []
        repeats: list[tuple[int, str, dict]] = []  # (index, key, fields) of an item whose key an earlier item carries
        keys_in_batch: set[str] = set()
        for index, fields in cleaned:
            key = fields["idempotency_key"]
            if key is not None and key in by_key:
                results[index] = _batch_replay(by_key[key], fields)
                continue
            row = Message(organization=organization, created_by=created_by, **fields)
            if key is not None:
                if key in keys_in_batch:
                    repeats.append((index, key, fields))
                    continue
                keys_in_batch.add(key)
            new_rows.append((index, row))
        if new_rows:
            queue_depth.check(organization=organization, adding=len(new_rows))
            Message.objects.bulk_create([row for _, row in new_rows], ignore_conflicts=bool(keys))
            stored = set(Message.objects.filter(pk__in=[row.pk for _, row in new_rows]).values_list("pk", flat=True))
            lost_races = [row.idempotency_key for _, row in new_rows if row.pk not in stored]
            if lost_races:
                # Another request stored these keys between our lookup and our insert.
                by_key.update(_stored_by_key(organization, lost_races))
            for index, row in new_rows:
                if row.pk in stored:
                    results[index] = BatchItemResult(message=row, created=True)
                    if row.idempotency_key is not None:
                        by_key[row.idempotency_key] = row
                else:
                    results[index] = _batch_replay(by_key[row.idempotency_key], {
                        name: getattr(row, name) for name in ("direction", "channel", "to", "body", "attachments", "reference")})
            schedule_messages([row.pk for _, row in new_rows if row.pk in stored])
            queue_depth.added(organization=organization, count=len(stored))
        for index, key, fields in repeats:
            results[index] = _batch_replay(by_key[key], fields)
    return results


def _stored_by_key(organization: Organization, keys: Iterable[str]) -> dict[str, Message]:
    keys = list(keys)
    if not keys:
        return {}
    return {row.idempotency_key: row for row in Message.objects.for_org(organization).filter(idempotency_key__in=keys)}


def schedule_messages(ids: Sequence[Any]) -> None:
    """Queue delivery of many messages: one batch task per ``DELIVERY_BATCH_SIZE`` ids, when the
    transaction commits."""
    size = max(int(settings.DELIVERY_BATCH_SIZE), 1)
    ids = [str(message_id) for message_id in ids]
    for start in range(0, len(ids), size):
        enqueue_on_commit(DELIVER_MESSAGE_BATCH_TASK, ids[start:start + size])
