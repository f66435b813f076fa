"""Call control: mid-call work for providers whose call instructions run as commands during the
call (``providers.features.CALL_SCRIPTS``: Telnyx speaks and plays what the call's TwiML said),
and hanging up (``call_hangup``).

The webhook endpoint queues ``call_continue`` for each answered or progress event of such an
integration; the adapter decides what to send (``VoipProvider.continue_call``). Every command
carries an id the provider de-duplicates, so a retried task or a redelivered webhook cannot
run a step twice.
"""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

from django.utils import timezone
from django.utils.translation import gettext as _

from audit import services as audit
from integrations.errors import OperationRefused
from integrations.models import Call, OrganizationIntegration
from providers import events, features
from providers.errors import ProviderError, ProviderUnavailable
from providers.values import InboundEvent

logger = logging.getLogger(__name__)


class CallStepDeferred(Exception):
    """The provider could not be reached; the task retries (bounded)."""


def call_continue(
    *, organization_id: UUID | str, integration_id: UUID | str, kind: str, provider_call_id: str, raw: dict[str, Any]
) -> bool:
    """Hand one call event to the integration's adapter. False when there was nothing to do
    or the provider refused (logged; a refused step is not retried)."""
    integration = OrganizationIntegration.objects.for_org(organization_id).filter(pk=integration_id).first()
    if integration is None:
        return False
    adapter = integration.adapter()
    try:
        adapter.continue_call(InboundEvent(kind=kind, provider_message_id=provider_call_id, raw=raw))
    except ProviderUnavailable as exc:
        logger.warning("Call %s on integration %s: next step deferred: %s", provider_call_id, integration.pk, adapter.scrub(str(exc)))
        raise CallStepDeferred(adapter.scrub(str(exc))) from None
    except ProviderError as exc:
        logger.warning("Call %s on integration %s: step refused: %s", provider_call_id, integration.pk, adapter.scrub(str(exc)))
        return False
    return True


# --------------------------------------------------------------------------- hang-up


def _hangup_refused(message: str, code: str) -> OperationRefused:
    return OperationRefused(message, code=code)


def _record_ended(call: Call, status: str, *, cost: Any = None, currency: str | None = None) -> None:
    """Move the call to ``status`` unless a webhook already moved it as far (statuses only move
    forward, as in the webhooks service)."""
    rank = events.CALL_STATUS_RANK[status]
    behind = [name for name, value in events.CALL_STATUS_RANK.items() if value < rank]
    fields: dict[str, Any] = {"status": status, "ended_at": timezone.now(), "updated_at": timezone.now()}
    Call.objects.for_org(call.organization).filter(pk=call.pk, status__in=behind).update(**fields)
    if cost is not None:
        Call.objects.for_org(call.organization).filter(pk=call.pk).exclude(cost_source="provider").update(
            cost=cost, currency=(currency or "")[:3].upper(), cost_source="provider")


def call_hangup(*, call: Call, actor: Any) -> Call:
    """End a call in progress, or cancel one still ringing, through its integration's provider
    (``VoipProvider.hangup``); a call still queued here is cancelled without a provider call.

    ``OperationRefused`` (code ``call_ended``, ``call_dialing``, ``integration_deleted``,
    ``unsupported`` or the provider's) when it cannot be done. The final status arrives by webhook when the provider's
    answer does not state it. Audited as ``call.hangup``.
    """
    if call.status in events.CALL_FINAL_STATUSES:
        raise _hangup_refused(_("This call has already ended (%(status)s).") % {"status": call.status}, "call_ended")
    if call.status == events.CALL_QUEUED:
        cancelled = Call.objects.for_org(call.organization).filter(pk=call.pk, status=events.CALL_QUEUED).update(
            status=events.CALL_FAILED, error="Cancelled before it was placed.", error_code="cancelled",
            ended_at=timezone.now(), lease_expires_at=None, updated_at=timezone.now())
        if not cancelled:
            raise _hangup_refused(_("The call is being placed right now; try again in a moment."), "call_dialing")
        _audit_hangup(call, actor, outcome="cancelled")
        call.refresh_from_db()
        return call
    if call.status == events.CALL_DIALING or not call.provider_call_id:
        raise _hangup_refused(_("The call is being placed right now; try again in a moment."), "call_dialing")
    if call.integration is None:
        raise _hangup_refused(_("The integration that placed this call no longer exists."), "integration_deleted")
    adapter = call.integration.adapter()
    if not adapter.supports(features.HANGUP):
        raise _hangup_refused(_("%(provider)s cannot hang up calls.") % {"provider": adapter.display_name}, events.ERROR_UNSUPPORTED)
    try:
        result = adapter.hangup(call.provider_call_id)
    except ProviderError as exc:
        logger.warning("Hang-up of call %s refused: %s", call.pk, adapter.scrub(str(exc)))
        raise _hangup_refused(_("The provider did not hang up the call: %(reason)s") % {"reason": adapter.scrub(exc.message)},
                              exc.code or "provider_error") from None
    if result.status in events.CALL_FINAL_STATUSES:
        _record_ended(call, result.status, cost=result.cost, currency=result.currency)
    _audit_hangup(call, actor, outcome=result.status or ("already_ended" if result.already_ended else "requested"))
    call.refresh_from_db()
    return call


def _audit_hangup(call: Call, actor: Any, *, outcome: str) -> None:
    audit.record(action="call.hangup", actor=actor, organization=call.organization, target=call,
                 after={"status": outcome, "provider": call.provider_name})
