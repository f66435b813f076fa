"""Mid-call work for providers whose call instructions run as commands during the call
(``providers.features.CALL_SCRIPTS``: Telnyx speaks and plays what the call's TwiML said).

The webhook endpoint queues ``call_continue`` for each answered or progress event of such an
integration; the adapter decides what to send (``VoipProvider.continue_call``). Every command
carries an id the provider de-duplicates, so a retried task or a redelivered webhook cannot
run a step twice.
"""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

from integrations.models import OrganizationIntegration
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
