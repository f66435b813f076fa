"""Claiming rows for delivery: ``queued`` (or ``sending`` with an expired lease) → ``sending`` with
one lease for the whole batch, committed before any provider is called.

On PostgreSQL a batch is claimed with one statement in autocommit::

    WITH claimable AS (SELECT id, status FROM messages WHERE id = ANY(…) AND (claimable)
                       FOR UPDATE SKIP LOCKED)
    UPDATE messages SET status = 'sending', lease_expires_at = …, updated_at = …
      FROM claimable WHERE messages.id = claimable.id
    RETURNING messages.*, claimable.status

``SKIP LOCKED`` leaves rows another worker is claiming at this moment to that worker, and the
status before the claim (``RETURNING claimable.status``) says which rows are *in doubt* (their
previous worker's lease expired while sending). Every other database (SQLite, the embedded
default) takes the portable ORM path: ``select_for_update(skip_locked=True)`` and an ``UPDATE``
in one transaction; both paths are tested against PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import Q

from integrations.models import Organization
from integrations.services.delivery.records import Kind, lease_duration


def _valid_ids(object_ids: Iterable[Any]) -> list[str]:
    ids = []
    for object_id in object_ids:
        try:
            ids.append(str(uuid.UUID(str(object_id))))
        except ValueError:
            continue
    return list(dict.fromkeys(ids))


def claim_rows(kind: Kind, object_ids: Iterable[Any], now: datetime, *, single_statement: bool | None = None
               ) -> tuple[list[tuple[Any, bool]], datetime | None]:
    """Claim what can be claimed of ``object_ids``. Returns ``([(row, in_doubt), …], lease)``:
    every claimed row carries the same lease (``lease_expires_at``), which is this worker's
    token for writing the outcome. ``single_statement`` defaults to "on PostgreSQL"."""
    ids = _valid_ids(object_ids)
    if not ids:
        return [], None
    lease = now + lease_duration()
    if single_statement is None:
        single_statement = connection.vendor == "postgresql"
    claimed = _claim_in_one_statement(kind, ids, now, lease) if single_statement else _claim_with_the_orm(kind, ids, now, lease)
    _attach_organizations([row for row, _ in claimed])
    return claimed, lease


def _claim_in_one_statement(kind: Kind, ids: list[str], now: datetime, lease: datetime) -> list[tuple[Any, bool]]:
    model = kind.model
    table = connection.ops.quote_name(model._meta.db_table)
    fields = model._meta.concrete_fields
    returning = ", ".join(f"{table}.{connection.ops.quote_name(f.column)}" for f in fields)
    sql = (
        f"WITH claimable AS (SELECT id, status FROM {table} WHERE id = ANY(%s::uuid[]) "
        f"AND (status = %s OR (status = %s AND lease_expires_at < %s)) FOR UPDATE SKIP LOCKED) "
        f"UPDATE {table} SET status = %s, lease_expires_at = %s, updated_at = %s FROM claimable "
        f"WHERE {table}.id = claimable.id RETURNING {returning}, claimable.status"
    )
    params = [ids, kind.queued, kind.sending, now, kind.sending, lease, now]
    # One statement in autocommit: committed before any provider is called.
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        records = cursor.fetchall()
    names = [f.attname for f in fields]
    claimed = []
    for record in records:
        row = model.from_db(connection.alias, names, _converted(fields, list(record[:-1])))
        claimed.append((row, record[-1] == kind.sending))
    return claimed


def _converted(fields, values: list[Any]) -> list[Any]:
    """Values as the ORM would have loaded them (JSON decoded, decimals, encrypted fields)."""
    converted = []
    for field, value in zip(fields, values, strict=True):
        for converter in field.get_db_converters(connection):
            value = converter(value, field, connection)
        converted.append(value)
    return converted


def _claim_with_the_orm(kind: Kind, ids: list[str], now: datetime, lease: datetime) -> list[tuple[Any, bool]]:
    with transaction.atomic():
        rows = list(
            kind.model.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(pk__in=ids)
            .filter(Q(status=kind.queued) | Q(status=kind.sending, lease_expires_at__lt=now))
        )
        if not rows:
            return []
        kind.model.objects.filter(pk__in=[row.pk for row in rows]).update(
            status=kind.sending, lease_expires_at=lease, updated_at=now
        )
    claimed = []
    for row in rows:
        in_doubt = row.status == kind.sending
        row.status, row.lease_expires_at, row.updated_at = kind.sending, lease, now
        claimed.append((row, in_doubt))
    return claimed


def _attach_organizations(rows: list[Any]) -> None:
    """One query for the organizations of a batch instead of one per row."""
    if not rows:
        return
    organizations = Organization.objects.in_bulk({row.organization_id for row in rows})
    for row in rows:
        row.organization = organizations[row.organization_id]
