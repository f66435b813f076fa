"""WhatsApp Web pairing: the bridge session's state and, while it waits, its QR code."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from integrations.models import OrganizationIntegration
from integrations.selectors import administered_organizations
from integrations.services.errors import NotFound, OperationRefused
from providers.base import ProviderError


def pairing_integration_for_admin(*, user: Any, integration_id: UUID | str) -> OrganizationIntegration:
    """The integration, if ``user`` administers its organization (superuser, owner or admin).

    An integration the user may not administer is reported as missing, not forbidden: its
    existence is none of their business.
    """
    integration = (
        OrganizationIntegration.objects.filter(organization__in=administered_organizations(user), pk=integration_id)
        .select_related("organization")
        .first()
    )
    if integration is None:
        raise NotFound("No such integration.")
    return integration


def integration_pairing_state(*, integration: OrganizationIntegration) -> dict[str, Any]:
    """JSON-ready pairing state: ``status``, ``bridge_status``, ``paired``, ``qr`` (data URL or
    None) and ``detail``. A bridge that cannot be reached is a state too, not an error."""
    adapter = integration.adapter()
    pairing_state = getattr(adapter, "pairing_state", None)
    if pairing_state is None:
        raise OperationRefused(f"{integration.provider_class().display_name} has no QR pairing.", code="not_supported")
    try:
        state = pairing_state()
    except ProviderError as exc:
        return {
            "status": "unreachable",
            "bridge_status": "",
            "paired": False,
            "qr": None,
            "detail": adapter.scrub(str(exc)),
        }
    qr = f"data:{state.qr_mimetype};base64,{state.qr_base64}" if state.qr_base64 else None
    detail = {
        "scan_qr_code": "Open WhatsApp on the phone, Linked devices, and scan this code.",
        "working": "Paired: the session is working.",
        "starting": "The bridge is starting the session.",
    }.get(state.status, f"The bridge session is {state.bridge_status or 'in an unknown state'}.")
    return {"status": state.status, "bridge_status": state.bridge_status, "paired": state.paired, "qr": qr, "detail": detail}
