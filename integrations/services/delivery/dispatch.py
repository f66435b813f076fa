"""Delivering one queued message or call: the work behind the Celery tasks.

The flow (DESIGN.md, "The flow of one message"):

1. **Claim** the row (``claim.claim_rows``, one statement on PostgreSQL; ``batch`` claims many
   at once): where it is ``queued`` (or ``sending`` with an expired lease), move it to ``sending``
   with a lease of ``DELIVERY_LEASE_SECONDS``, commit. A row another worker holds, or one already sent, is left alone: duplicate task
   messages (redelivery after a lost worker, a sweep) cost a query and send nothing.
2. **Route at send time**: ``policies.selection.route_for_delivery`` — primary first, then
   active fallbacks by priority, reordered by the channel's routing policy (weights, tag rules).
   A switch or policy change committed before this point is what this delivery uses.
3. **Try each integration** in order, skipping those whose circuit breaker is open, recording
   every attempt (integration, provider, outcome, error code, latency) on the row:

   * success → ``sent`` with the provider's id, the integration, the cost (provider-reported,
     else the catalog price with the integration's overrides; ``cost_source`` says which) and
     the latency. Stop.
   * ``ProviderUnavailable`` (retryable: timeouts, 5xx, rate limits) → counts towards the
     integration's breaker; try the next integration.
   * ``ProviderRejected`` — **the fail-over rule**: a refusal tied to *this provider*
     (``fail_over=True``: its credentials were rejected, the account is suspended, the sender
     is not set up, or the integration's configuration cannot work) tries the next integration,
     because another provider may well accept the same message. A refusal that would happen
     anywhere (``fail_over=False``: invalid recipient, body too long, unsupported attachment)
     fails the message at once: sending it elsewhere would fail again, or worse, succeed
     somewhere the organization did not choose for a message its primary refused. Neither kind
     counts towards the breaker: a rejection is not an outage.
4. **Nothing succeeded**: when at least one failure was retryable (or an integration was skipped
   for an open breaker, or the route was empty), the row goes back to ``queued`` and the task is
   retried by Celery with exponential backoff and jitter. After ``DELIVERY_MAX_RETRIES`` retries
   (counted on the row, so a re-queued task cannot reset the count) it is ``failed``, every
   attempt and the reasons kept, and the organization is notified. When every failure was a
   provider-tied rejection, retrying cannot help: ``failed`` now.

Never sent twice: only a claimed row is sent, and ``sent`` is written with a conditional UPDATE
that requires this worker's lease. The one window no database can close is a worker dying
after the provider accepted a message and before ``sent`` was committed; when its lease expires
the row is *in doubt*, and before sending again delivery asks each of the channel's
integrations whether it already carries a message with our reference
(``Provider.lookup_sent``). Providers that can answer make the redelivery exactly-once; for
those that cannot, it is at-least-once, and the client reference we pass lets the provider or
the recipient de-duplicate. Keep ``DELIVERY_LEASE_SECONDS`` well above the time one round of
attempts can take (provider timeouts × integrations), or a slow worker's lease can expire
while it is still sending.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone

from audit import context
from integrations.models import Channel, OrganizationIntegration
from integrations.services.delivery import breaker, content, pacing
from integrations.services.delivery.claim import claim_rows
from integrations.services.delivery.records import (
    CALL,
    MESSAGE,
    OUTCOME_NO_ROUTE,
    OUTCOME_PACED,
    OUTCOME_RECONCILED,
    OUTCOME_REJECTED,
    OUTCOME_SENT,
    OUTCOME_SKIPPED,
    OUTCOME_UNAVAILABLE,
    Kind,
    SentRecord,
    attempt_entry,
    elapsed_ms,
    record_deferred,
    record_failed,
    record_sent,
    result_latency,
)
from integrations.services.policies.selection import failure_action, route_for_delivery
from providers import events
from providers.errors import (
    ProviderConfigurationError,
    ProviderError,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
)
from providers.values import Attachment, OutboundCall, OutboundMessage

logger = logging.getLogger(__name__)

DELIVERED = "sent"
DEFERRED = "deferred"
FAILED = "failed"
NOT_CLAIMED = "not_claimed"


class DeliveryDeferred(Exception):
    """Every integration failed in a way worth retrying; the task retries with backoff."""


@dataclass(frozen=True)
class DeliveryOutcome:
    status: str  # DELIVERED, DEFERRED, FAILED or NOT_CLAIMED
    object_id: str
    integration_id: str | None = None
    detail: str = ""
    # A send whose ``sent`` is written later, with others of its batch, in one statement.
    unrecorded: SentRecord | None = None


# --------------------------------------------------------------------------- provider calls


def _outbound(kind: Kind, row: Any) -> OutboundMessage | OutboundCall:
    if kind is MESSAGE:
        return OutboundMessage(
            to=row.to,
            body=row.body,
            attachments=tuple(Attachment.from_dict(a) for a in row.attachments or ()),
            reference=row.reference or None,
            client_reference=str(row.pk),
            interactive=content.interactive_of(row),
        )
    return OutboundCall(
        to=row.to,
        from_number=row.from_number or None,
        twiml=row.twiml or None,
        client_reference=str(row.pk),
    )


def _send(kind: Kind, integration: OrganizationIntegration, outbound: Any):
    context.set_scope(integration_id=integration.pk)
    adapter = integration.adapter()
    if kind is MESSAGE:
        result = adapter.send_message(outbound)
        return str(getattr(result, "provider_message_id", "") or ""), result
    result = adapter.place_call(outbound)
    return str(getattr(result, "provider_call_id", "") or ""), result


# --------------------------------------------------------------------------- the delivery


def _reconcile(kind: Kind, row: Any, *, attempts, round_number, claimed_lease) -> DeliveryOutcome | None:
    """A row whose previous worker died mid-send: did a provider already take it?"""
    candidates = OrganizationIntegration.objects.for_org(row.organization).filter(
        channel=Channel.VOIP if kind is CALL else row.channel
    )
    for integration in candidates:
        started = timezone.now()
        try:
            provider_id = integration.adapter().lookup_sent(str(row.pk))
        except ProviderError as exc:
            logger.warning("Could not ask %s whether %s was sent: %s", integration.provider_name, row.pk, exc)
            continue
        if provider_id:
            attempts.append(attempt_entry(integration, OUTCOME_RECONCILED, round_number=round_number, started=started))
            record_sent(kind, row, integration=integration, provider_id=provider_id, result=None,
                         attempts=attempts, claimed_lease=claimed_lease)
            return DeliveryOutcome(DELIVERED, str(row.pk), str(integration.pk), "reconciled")
    return None


def deliver_claimed(kind: Kind, row: Any, *, in_doubt: bool, claimed_lease: datetime,
                    record_later: bool = False) -> DeliveryOutcome:
    """Steps 2–4 for one claimed row (see the module docstring). With ``record_later`` a success
    is returned as ``unrecorded`` for the caller to write with its batch (``records.record_sent_many``)
    instead of being written here. Raises ``DeliveryDeferred`` after recording a deferral."""
    now = timezone.now()
    context.set_scope(organization_id=row.organization_id)
    attempts: list[dict] = list(row.attempts or [])
    round_number = row.retry_count + 1

    if in_doubt:
        reconciled = _reconcile(kind, row, attempts=attempts, round_number=round_number, claimed_lease=claimed_lease)
        if reconciled is not None:
            return reconciled

    channel = Channel.VOIP if kind is CALL else row.channel
    routed_at = timezone.now()
    route = route_for_delivery(organization=row.organization, channel=channel, contact=row.to, tags=getattr(row, "tags", ()))
    # The route is what was committed at some moment between routed_at and routed_until (a busy
    # worker can take a while to resolve it); both are recorded on every attempt of this round.
    routed_until = timezone.now()
    plan = content.send_plan(row) if kind is MESSAGE else None
    route, unavailable = content.route_for(plan, route)
    if unavailable:
        return _template_unavailable(kind, row, unavailable, attempts=attempts, routed_at=routed_at,
                                     round_number=round_number, claimed_lease=claimed_lease)
    outbound = _outbound(kind, row)
    retryable_reasons: list[str] = []
    final_reasons: list[str] = []
    paced = 0  # of the retryable reasons, how many were "wait your turn" (a limit, a 429)
    last_code = ""

    if not route:
        attempts.append(attempt_entry(None, OUTCOME_NO_ROUTE, routed_at=routed_at, routed_until=routed_until, round_number=round_number, started=now,
                                 error=f"No active {channel} integration."))
        retryable_reasons.append(f"no active {channel} integration")
        last_code = OUTCOME_NO_ROUTE

    for integration in route:
        started = timezone.now()
        if not breaker.breaker_allows(integration=integration, now=started):
            attempts.append(attempt_entry(integration, OUTCOME_SKIPPED, routed_at=routed_at, routed_until=routed_until, round_number=round_number, started=started))
            retryable_reasons.append(f"{integration.display_name}: circuit breaker open")
            last_code = last_code or OUTCOME_SKIPPED
            continue
        if not pacing.wait_turn(integration=integration):
            attempts.append(attempt_entry(integration, OUTCOME_PACED, routed_at=routed_at, routed_until=routed_until,
                                          round_number=round_number, started=started, latency_ms=elapsed_ms(started)))
            retryable_reasons.append(f"{integration.display_name}: at its send rate limit")
            paced += 1
            last_code = last_code or OUTCOME_PACED
            continue
        sent = content.outbound_for(plan, outbound, integration)
        try:
            provider_id, result = _send(kind, integration, sent)
        except ProviderRateLimited as exc:
            # "Too many requests" is pacing, not an outage: every worker holds off this
            # integration for a moment; the breaker does not count it.
            attempts.append(attempt_entry(integration, OUTCOME_UNAVAILABLE, routed_at=routed_at, routed_until=routed_until,
                                          round_number=round_number, started=started, latency_ms=elapsed_ms(started), error=exc))
            retryable_reasons.append(f"{integration.display_name}: {exc}")
            last_code = exc.code or "rate_limited"
            pacing.slow_down(integration=integration, seconds=exc.retry_after)
            paced += 1
            continue
        except ProviderUnavailable as exc:
            if exc.status == 429:  # an adapter that does not say ProviderRateLimited yet
                attempts.append(attempt_entry(integration, OUTCOME_UNAVAILABLE, routed_at=routed_at, routed_until=routed_until,
                                              round_number=round_number, started=started, latency_ms=elapsed_ms(started), error=exc))
                retryable_reasons.append(f"{integration.display_name}: {exc}")
                last_code = exc.code or "rate_limited"
                pacing.slow_down(integration=integration)
                paced += 1
                continue
            attempts.append(attempt_entry(integration, OUTCOME_UNAVAILABLE, routed_at=routed_at, routed_until=routed_until, round_number=round_number, started=started,
                                     latency_ms=elapsed_ms(started), error=exc))
            retryable_reasons.append(f"{integration.display_name}: {exc}")
            last_code = exc.code or "unavailable"
            breaker.record_failure(integration=integration, detail=str(exc))
            # The channel's failure policy may say otherwise for this error code (docs/POLICIES.md).
            action = failure_action(organization=row.organization, channel=channel, code=exc.code)
            if action == "stop":
                record_failed(kind, row, attempts=attempts, reason=f"{integration.display_name}: {exc}",
                              code=last_code, claimed_lease=claimed_lease, notify=False)
                return DeliveryOutcome(FAILED, str(row.pk), str(integration.pk), str(exc))
            if action == "retry":
                break
            continue
        except (ProviderRejected, ProviderConfigurationError) as exc:
            action = failure_action(organization=row.organization, channel=channel, code=exc.code)
            fail_over = getattr(exc, "fail_over", True) if action is None else action == "fail_over"
            attempts.append(attempt_entry(integration, OUTCOME_REJECTED, routed_at=routed_at, routed_until=routed_until, round_number=round_number, started=started,
                                     latency_ms=elapsed_ms(started), error=exc))
            last_code = exc.code or "rejected"
            if action == "retry":
                retryable_reasons.append(f"{integration.display_name}: {exc}")
                break
            if not fail_over:
                record_failed(kind, row, attempts=attempts, reason=f"{integration.display_name}: {exc}",
                               code=last_code, claimed_lease=claimed_lease, notify=False)
                return DeliveryOutcome(FAILED, str(row.pk), str(integration.pk), str(exc))
            final_reasons.append(f"{integration.display_name}: {exc}")
            continue
        except ProviderError as exc:
            # An adapter raising the root class has not said whether retrying helps; its
            # ``retryable`` flag decides, and either way another provider may succeed.
            outcome = OUTCOME_UNAVAILABLE if exc.retryable else OUTCOME_REJECTED
            attempts.append(attempt_entry(integration, outcome, routed_at=routed_at, routed_until=routed_until, round_number=round_number, started=started,
                                     latency_ms=elapsed_ms(started), error=exc))
            (retryable_reasons if exc.retryable else final_reasons).append(f"{integration.display_name}: {exc}")
            last_code = exc.code or type(exc).__name__
            continue
        except Exception as exc:
            # A bug in an adapter is that provider's outage, not a reason to lose the message.
            logger.exception("Adapter %s raised unexpectedly", integration.provider_name)
            attempts.append(attempt_entry(integration, OUTCOME_UNAVAILABLE, routed_at=routed_at, routed_until=routed_until, round_number=round_number, started=started,
                                     latency_ms=elapsed_ms(started), error=f"internal error ({type(exc).__name__})"))
            retryable_reasons.append(f"{integration.display_name}: internal error ({type(exc).__name__})")
            last_code = "adapter_error"
            breaker.record_failure(integration=integration, detail=type(exc).__name__)
            continue

        # The provider accepted it: from here on nothing may raise before ``sent`` is stored,
        # or the row stays ``sending`` and a sweep sends it again (tests/security).
        try:
            attempts.append(attempt_entry(integration, OUTCOME_SENT, routed_at=routed_at, routed_until=routed_until, round_number=round_number,
                                          started=started, latency_ms=result_latency(result)))
        except Exception:
            logger.exception("Could not describe the send of %s through %s", row.pk, integration.pk)
        unrecorded = None
        if record_later:
            # Written by the batch right after (``records.record_sent_many``), as defensively.
            unrecorded = SentRecord(row=row, integration=integration, provider_id=provider_id, result=result,
                                    attempts=attempts)
        else:
            record_sent(kind, row, integration=integration, provider_id=provider_id, result=result,
                        attempts=attempts, claimed_lease=claimed_lease)
        try:
            breaker.record_success(integration=integration)
        except Exception:
            logger.exception("Could not close the breaker of %s after a send", integration.pk)
        try:
            content.content_sent(integration=integration, outbound=sent, result=result)
        except Exception:
            logger.exception("Could not keep the content %s created for %s", integration.pk, row.pk)
        return DeliveryOutcome(DELIVERED, str(row.pk), str(integration.pk), unrecorded=unrecorded)

    reason = "; ".join(retryable_reasons + final_reasons) or "no integration could send it"
    # A round that only waited for its turn (send rate limits, "too many requests") is pacing,
    # not a failure: it does not use up the message's retries.
    paced_only = paced and paced == len(retryable_reasons) and not final_reasons
    if retryable_reasons and (paced_only or row.retry_count < settings.DELIVERY_MAX_RETRIES):
        record_deferred(kind, row, attempts=attempts, reason=reason, code=last_code,
                         retry_count=row.retry_count + (0 if paced_only else 1), claimed_lease=claimed_lease)
        raise DeliveryDeferred(reason)
    if retryable_reasons:
        reason = f"Gave up after {row.retry_count + 1} rounds: {reason}"
    record_failed(kind, row, attempts=attempts, reason=reason, code=last_code, claimed_lease=claimed_lease)
    return DeliveryOutcome(FAILED, str(row.pk), None, reason)


def _deliver_one(kind: Kind, object_id: Any) -> DeliveryOutcome:
    claimed, lease = claim_rows(kind, [object_id], timezone.now())
    if not claimed:
        return DeliveryOutcome(NOT_CLAIMED, str(object_id))
    row, in_doubt = claimed[0]
    return deliver_claimed(kind, row, in_doubt=in_doubt, claimed_lease=lease)


def _template_unavailable(kind: Kind, row: Any, reason: str, *, attempts, routed_at, round_number, claimed_lease) -> DeliveryOutcome:
    """No integration of the route can carry the message's template: failed now (no retry
    would map it), and the organization is told."""
    attempts.append(attempt_entry(None, OUTCOME_REJECTED, routed_at=routed_at, round_number=round_number,
                                  started=routed_at, error=reason))
    record_failed(kind, row, attempts=attempts, reason=reason, code=events.ERROR_TEMPLATE_UNAVAILABLE,
                  claimed_lease=claimed_lease)
    return DeliveryOutcome(FAILED, str(row.pk), None, reason)


def deliver_message(*, message_id: Any) -> DeliveryOutcome:
    """Deliver one queued message (see the module docstring). Raises ``DeliveryDeferred`` when
    it should be retried later."""
    return _deliver_one(MESSAGE, message_id)


def deliver_call(*, call_id: Any) -> DeliveryOutcome:
    """Place one queued call; same rules as ``deliver_message``."""
    return _deliver_one(CALL, call_id)
