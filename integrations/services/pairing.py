"""WhatsApp Web pairing: the bridge session's state and, while it waits, its QR code."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from audit import services as audit
from audit.models import AuditEvent
from integrations.errors import OperationRefused
from integrations.models import OrganizationIntegration
from providers.errors import ProviderError


def integration_pairing_state(*, integration: OrganizationIntegration) -> dict[str, Any]:
    """JSON-ready pairing state: ``status``, ``bridge_status``, ``paired``, ``qr`` (data URL or
    None) and ``detail``. A bridge that cannot be reached is a state too, not an error."""
    adapter = integration.adapter()
    pairing_state = getattr(adapter, "pairing_state", None)
    if pairing_state is None:
        raise OperationRefused(
            _("%(provider)s has no QR pairing.") % {"provider": integration.provider_class().display_name},
            code="not_supported",
        )
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
        "scan_qr_code": _("Open WhatsApp on the phone, Linked devices, and scan this code."),
        "working": _("Paired: the session is working."),
        "starting": _("The bridge is starting the session."),
    }.get(state.status)
    if detail is None:
        # The bridge's own status word (WAHA's STOPPED, FAILED…) is a technical id: shown as is.
        detail = (
            _("The bridge session is %(status)s.") % {"status": state.bridge_status}
            if state.bridge_status
            else _("The bridge session is in an unknown state.")
        )
    return {"status": state.status, "bridge_status": state.bridge_status, "paired": state.paired, "qr": qr, "detail": detail}


def integration_session_start(*, integration: OrganizationIntegration, actor: Any) -> dict[str, Any]:
    """Create (or update) and start the bridge session with our webhook URL and HMAC key.

    The bridge is called outside any transaction; the audit event records the outcome.
    Returns the pairing state right after, so the screen can show the QR at once.
    """
    adapter = integration.adapter()
    if getattr(adapter, "pairing_state", None) is None:
        raise OperationRefused(
            _("%(provider)s has no session to start.") % {"provider": integration.provider_class().display_name},
            code="not_supported",
        )
    try:
        adapter.setup()
    except ProviderError as exc:
        reason = adapter.scrub(str(exc))
        audit.record(
            action="integration.session_started", actor=actor, organization=integration.organization,
            target=integration, outcome=AuditEvent.Outcome.FAILURE, reason=reason,
        )
        raise OperationRefused(
            _("The bridge did not start the session: %(reason)s") % {"reason": reason}, code="provider_error"
        ) from None
    audit.record(
        action="integration.session_started", actor=actor, organization=integration.organization, target=integration,
        after={"session": adapter.setting("session", "default"), "webhook_url": integration.webhook_url},
    )
    return integration_pairing_state(integration=integration)
