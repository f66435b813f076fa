"""What a delivery writes on its row: every attempt, and the outcome (sent, failed, or deferred
for a retry). Every write requires this worker's lease, so a worker that lost its claim never
overwrites what another recorded."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from integrations.models import Call, Message, OrganizationIntegration
from integrations.services import metrics, notifications
from providers import inbound
from providers.errors import ProviderError

logger = logging.getLogger(__name__)

# Attempt outcomes recorded on Message.attempts / Call.attempts.
OUTCOME_SENT = "sent"  # the provider accepted it
OUTCOME_RECONCILED = "reconciled"  # found already sent by a worker that died before recording it
OUTCOME_UNAVAILABLE = "unavailable"  # retryable failure: outage, timeout, rate limit
OUTCOME_REJECTED = "rejected"  # the provider refused; see the fail-over rule above
OUTCOME_SKIPPED = "skipped_breaker"  # not tried: its circuit breaker is open
OUTCOME_NO_ROUTE = "no_route"  # the channel has no active integration
OUTCOME_PACED = "paced"  # not tried: its send rate limit would have made it wait too long


@dataclass(frozen=True)
class Kind:
    """What differs between delivering a message and placing a call."""

    model: type[Message] | type[Call]
    queued: str
    sending: str
    sent: str
    failed: str
    provider_id_field: str
    sent_at_field: str
    failure_event: str


MESSAGE = Kind(Message, Message.Status.QUEUED, Message.Status.SENDING, Message.Status.SENT,
                Message.Status.FAILED, "provider_message_id", "sent_at", notifications.MESSAGE_FAILED)
CALL = Kind(Call, Call.Status.QUEUED, Call.Status.DIALING, Call.Status.INITIATED,
             Call.Status.FAILED, "provider_call_id", "started_at", notifications.CALL_FAILED)


def lease_duration() -> timedelta:
    return timedelta(seconds=settings.DELIVERY_LEASE_SECONDS)


# cost_source when neither the provider nor the price model could give a cost: the message was
# sent all the same (a price is never a reason to send again).
COST_UNPRICED = "unpriced"
MAX_LATENCY_MS = 2**31 - 1  # the latency columns are PostgreSQL integers


def cost_of(kind: Kind, integration: OrganizationIntegration, row: Any, result: Any) -> tuple[Decimal | None, str, str]:
    """(cost, currency, cost_source). A call's cost is known only once it ends (webhook).

    Never raises: it runs after a provider accepted the message, where an exception would leave
    the row ``sending`` and a later sweep would send it again. A provider-reported cost that does
    not fit the column, or overrides that cannot price (stored before they were validated), give
    no cost and ``cost_source = "unpriced"``.
    """
    try:
        reported = getattr(result, "cost", None) if result is not None else None
        if reported is not None:
            cost = inbound.clean_cost(reported)
            if cost is not None:
                return cost, inbound.clean_text(getattr(result, "currency", "") or "", 3).upper(), "provider"
            logger.warning("%s reported a cost that cannot be stored for %s", integration.provider_name, row.pk)
            return None, "", COST_UNPRICED
        if kind is CALL:
            return None, "", ""
        prices = integration.provider_class().pricing.with_overrides(integration.config)
        cost = inbound.clean_cost(prices.message_cost(category=row.category or None))
        if cost is None:
            return None, "", COST_UNPRICED
        return cost, inbound.clean_text(prices.currency, 3).upper(), "catalog"
    except Exception:
        logger.exception("Could not price %s %s sent through %s", kind.model.__name__, row.pk, integration.provider_name)
        return None, "", COST_UNPRICED


def result_latency(result: Any) -> int | None:
    """The provider call's latency as the column takes it, or None."""
    latency = getattr(result, "latency_ms", None)
    if isinstance(latency, bool) or not isinstance(latency, int | float):
        return None
    try:
        return min(max(int(latency), 0), MAX_LATENCY_MS)
    except (ValueError, OverflowError):
        return None


def attempt_entry(integration: OrganizationIntegration | None, outcome: str, *, round_number: int,
             started: datetime, latency_ms: int | None = None, error: ProviderError | str | None = None,
             routed_at: datetime | None = None, routed_until: datetime | None = None) -> dict:
    entry = {
        "at": started.isoformat(),
        # When this round resolved its route (started, finished): what it used was committed at
        # some moment in between.
        "routed_at": routed_at.isoformat() if routed_at else None,
        "routed_until": routed_until.isoformat() if routed_until else None,
        "round": round_number,
        "integration": str(integration.pk) if integration else None,
        "provider": integration.provider_name if integration else "",
        "outcome": outcome,
        "latency_ms": latency_ms,
    }
    if isinstance(error, ProviderError):
        entry["error_code"] = error.code or type(error).__name__
        entry["error"] = str(error.message)[:500]
    elif error:
        entry["error"] = str(error)[:500]
    return entry


def elapsed_ms(started: datetime) -> int:
    return max(int((timezone.now() - started).total_seconds() * 1000), 0)


def _sent_outcome(kind: Kind, *, integration, provider_id: str, now: datetime) -> dict[str, Any]:
    """What keeps a row from being sent again: ``sent``, the integration, the provider's id."""
    return {
        "status": kind.sent,
        "integration": integration,
        "provider_name": inbound.clean_text(integration.provider_name, 64),
        kind.provider_id_field: inbound.clean_text(provider_id, 255),
        "error": "",
        "error_code": "",
        "lease_expires_at": None,
        kind.sent_at_field: now,
        "updated_at": now,
    }


def _sent_details(kind: Kind, row: Any, *, integration, result, attempts) -> dict[str, Any]:
    cost, currency, cost_source = cost_of(kind, integration, row, result)
    return {
        "cost": cost,
        "currency": currency,
        "cost_source": cost_source,
        "latency_ms": result_latency(result),
        "attempts": attempts,
    }


def record_sent(kind: Kind, row: Any, *, integration, provider_id: str, result, attempts, claimed_lease) -> bool:
    """Record that a provider accepted the row. Runs right after the provider call, before
    anything else that could raise: the outcome (``sent``, the integration, the provider's id)
    is what keeps the row from being sent again, so the details (cost, latency, attempts) are
    computed defensively, and when writing them fails the outcome is written alone."""
    now = timezone.now()
    outcome = _sent_outcome(kind, integration=integration, provider_id=provider_id, now=now)
    details = _sent_details(kind, row, integration=integration, result=result, attempts=attempts)
    # Our lease is the claim token: if it expired and another worker took the row, we do not
    # overwrite what that worker records.
    claimed = kind.model.objects.filter(pk=row.pk, status=kind.sending, lease_expires_at=claimed_lease)
    try:
        with transaction.atomic():  # a savepoint: a refused detail must not spoil the outcome
            updated = claimed.update(**outcome, **details)
    except Exception:
        logger.exception("Could not store the details of %s %s sent through %s; storing the outcome alone",
                         kind.model.__name__, row.pk, integration.provider_name)
        updated = claimed.update(**outcome, cost_source=COST_UNPRICED)
    try:
        metrics.delivery_recorded(kind=kind.model._meta.model_name, row=row, outcome="sent", attempts=attempts, written=updated)
    except Exception:
        logger.exception("Could not count the delivery of %s %s", kind.model.__name__, row.pk)
    if not updated:
        logger.error(
            "Lease on %s %s was lost while sending through %s (provider id %s); the row was not updated.",
            kind.model.__name__, row.pk, integration.provider_name, provider_id,
        )
    return bool(updated)


@dataclass(frozen=True)
class SentRecord:
    """A provider's acceptance not yet written on its row (``record_sent_many``)."""

    row: Any
    integration: OrganizationIntegration
    provider_id: str
    result: Any
    attempts: list


def _bulk_sent(kind: Kind, records: list[SentRecord], claimed_lease, *, now, with_details: bool,
               single_statement: bool) -> set:
    """Write the rows; returns the ids written."""
    rows = []
    for record in records:
        fields = _sent_outcome(kind, integration=record.integration, provider_id=record.provider_id, now=now)
        if with_details:
            fields.update(_sent_details(kind, record.row, integration=record.integration, result=record.result,
                                        attempts=record.attempts))
        else:
            fields["cost_source"] = COST_UNPRICED
        rows.append((record.row.pk, fields))
    if single_statement:
        return _update_from_arrays(kind, rows, claimed_lease)
    objects = []
    for pk, fields in rows:
        obj = kind.model(pk=pk)
        for name, value in fields.items():
            setattr(obj, name, value)
        objects.append(obj)
    # One UPDATE (a CASE per column) over rows still ``sending`` under this batch's lease.
    claimed = kind.model.objects.filter(status=kind.sending, lease_expires_at=claimed_lease)
    claimed.bulk_update(objects, list(rows[0][1]))
    ids = [pk for pk, _ in rows]
    return set(kind.model.objects.filter(pk__in=ids, status=kind.sent, **{kind.sent_at_field: now})
               .values_list("pk", flat=True))


# The columns that differ from row to row, and their PostgreSQL array types.
_PER_ROW = {"integration": "uuid", "provider_name": "text", "cost": "numeric", "currency": "text",
            "cost_source": "text", "latency_ms": "integer", "attempts": "jsonb"}


def _update_from_arrays(kind: Kind, rows: list[tuple[Any, dict]], claimed_lease) -> set:
    """PostgreSQL: ``UPDATE … FROM unnest(one array per column) … RETURNING id``, the same values
    the ORM would write, at a fraction of the ORM's cost of building a CASE per row and column."""
    model, quote = kind.model, connection.ops.quote_name
    table = quote(model._meta.db_table)
    per_row = {**_PER_ROW, kind.provider_id_field: "text"}
    present = [name for name in per_row if name in rows[0][1]]
    arrays: list[list] = [[str(pk) for pk, _ in rows]]
    for name in present:
        if name == "integration":
            arrays.append([str(fields[name].pk) for _, fields in rows])
        elif name == "attempts":
            arrays.append([json.dumps(fields[name], cls=DjangoJSONEncoder) for _, fields in rows])
        else:
            arrays.append([fields[name] for _, fields in rows])
    constants = {name: value for name, value in rows[0][1].items() if name not in per_row}
    assignments, params = [], []
    for name in present:
        column = model._meta.get_field(name).column
        assignments.append(f"{quote(column)} = v.{quote(column)}")
    for name, value in constants.items():
        assignments.append(f"{quote(model._meta.get_field(name).column)} = %s")
        params.append(value)
    columns = ["id", *(model._meta.get_field(name).column for name in present)]
    types = ["uuid", *(per_row[name] if per_row[name] != "jsonb" else "text" for name in present)]
    unnest = ", ".join(f"%s::{t}[]" for t in types)
    casts = ", ".join(f"v.{quote(c)}" if per_row.get(n) != "jsonb" else f"v.{quote(c)}::jsonb"
                      for c, n in zip(columns, ["id", *present], strict=True))
    sql = (
        f"UPDATE {table} SET {', '.join(assignments)} "
        f"FROM (SELECT {casts} FROM unnest({unnest}) AS v({', '.join(quote(c) for c in columns)})) AS v "
        f"WHERE {table}.id = v.id AND {table}.status = %s AND {table}.lease_expires_at = %s "
        f"RETURNING {table}.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *arrays, kind.sending, claimed_lease])
        return {row[0] for row in cursor.fetchall()}


def record_sent_many(kind: Kind, records: list[SentRecord], *, claimed_lease, single_statement: bool | None = None) -> int:
    """``record_sent`` for many rows claimed with one lease, in one statement: only rows still
    ``sending`` under that lease are written, and when the details cannot be written the outcome
    is written alone. Returns how many rows were written."""
    if not records:
        return 0
    now = timezone.now()
    if single_statement is None:
        single_statement = connection.vendor == "postgresql"
    try:
        with transaction.atomic():  # a savepoint: a refused detail must not spoil the outcome
            written = _bulk_sent(kind, records, claimed_lease, now=now, with_details=True,
                                 single_statement=single_statement)
    except Exception:
        logger.exception("Could not store the details of %s sent %s; storing the outcomes alone",
                         len(records), kind.model._meta.verbose_name_plural)
        written = _bulk_sent(kind, records, claimed_lease, now=now, with_details=False,
                             single_statement=single_statement)
    lost = {record.row.pk for record in records} - written
    if lost:
        for record in records:
            if record.row.pk in lost:
                logger.error(
                    "Lease on %s %s was lost while sending through %s (provider id %s); the row was not updated.",
                    kind.model.__name__, record.row.pk, record.integration.provider_name, record.provider_id,
                )
    for record in records:
        try:
            metrics.delivery_recorded(kind=kind.model._meta.model_name, row=record.row, outcome="sent",
                                      attempts=record.attempts, written=record.row.pk not in lost)
        except Exception:
            logger.exception("Could not count the delivery of %s %s", kind.model.__name__, record.row.pk)
    return len(written)


def record_failed(kind: Kind, row: Any, *, attempts, reason: str, code: str, claimed_lease, notify: bool = True) -> None:
    """Mark the row failed. ``notify`` is False for a refusal of the message's own content (an
    invalid recipient is the caller's error, not an incident to page the organization about)."""
    now = timezone.now()
    fields = {
        "status": kind.failed,
        "attempts": attempts,
        "error": reason[:2000],
        "error_code": code[:64],
        "lease_expires_at": None,
        "updated_at": now,
    }
    if kind is MESSAGE:
        fields["failed_at"] = now
    else:
        fields["ended_at"] = now
    with transaction.atomic():
        updated = kind.model.objects.filter(pk=row.pk, status=kind.sending, lease_expires_at=claimed_lease).update(**fields)
        if updated and notify:
            notifications.notify(
                organization=row.organization,
                event=kind.failure_event,
                summary=format_lazy(_("Message to {to} failed: {reason}") if kind is MESSAGE else _("Call to {to} failed: {reason}"),
                                    to=row.to, reason=reason[:150]),
                data={"id": str(row.pk), "reference": row.reference, "error_code": code, "attempts": len(attempts)},
            )
    metrics.delivery_recorded(kind=kind.model._meta.model_name, row=row, outcome="failed", attempts=attempts, written=updated)


def record_deferred(kind: Kind, row: Any, *, attempts, reason: str, code: str, retry_count: int, claimed_lease) -> None:
    now = timezone.now()
    # Re-queue horizon for the sweeper: past the longest backoff, plus a lease of slack.
    horizon = now + timedelta(seconds=settings.DELIVERY_RETRY_BACKOFF_MAX) + lease_duration()
    updated = kind.model.objects.filter(pk=row.pk, status=kind.sending, lease_expires_at=claimed_lease).update(
        status=kind.queued,
        attempts=attempts,
        retry_count=retry_count,
        error=reason[:2000],
        error_code=code[:64],
        lease_expires_at=horizon,
        updated_at=now,
    )
    metrics.delivery_recorded(kind=kind.model._meta.model_name, row=row, outcome="deferred", attempts=attempts, written=updated)
