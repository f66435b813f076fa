"""Normalized statuses and event kinds shared by every provider and by the delivery pipeline."""

# ----- event kinds (InboundEvent.kind)
INBOUND_MESSAGE = "message.inbound"  # someone wrote to the organization
MESSAGE_STATUS = "message.status"  # a provider reports progress of an outbound message
CALL_STATUS = "call.status"  # a provider reports progress of a call
SESSION_STATUS = "session.status"  # a bridge's session changed (pairing, connected, failed)

# ----- message statuses, in the order a message moves through them
STATUS_QUEUED = "queued"  # stored, waiting for a worker
STATUS_SENDING = "sending"  # claimed by a worker, provider call under way
STATUS_SENT = "sent"  # the provider accepted it
STATUS_DELIVERED = "delivered"  # it reached the recipient's device
STATUS_READ = "read"  # the recipient opened it
STATUS_FAILED = "failed"  # it will not be delivered; the reason is kept

# How far along each status is; a webhook may only move a message forward. "failed" ranks
# with "sent": a provider may fail a sent message, but a late failure cannot undo delivery.
MESSAGE_STATUS_RANK = {
    STATUS_QUEUED: 0,
    STATUS_SENDING: 1,
    STATUS_SENT: 2,
    STATUS_FAILED: 3,
    STATUS_DELIVERED: 4,
    STATUS_READ: 5,
}

# ----- call statuses
CALL_QUEUED = "queued"  # stored, waiting for a worker
CALL_DIALING = "dialing"  # claimed by a worker, provider call under way
CALL_INITIATED = "initiated"  # the provider accepted the call request
CALL_RINGING = "ringing"  # the far end is ringing
CALL_ANSWERED = "answered"  # the far end picked up
CALL_COMPLETED = "completed"  # hung up after being answered; duration is known
CALL_BUSY = "busy"  # the far end was busy
CALL_NO_ANSWER = "no_answer"  # nobody picked up
CALL_FAILED = "failed"  # the call could not be placed

CALL_STATUS_RANK = {
    CALL_QUEUED: 0,
    CALL_DIALING: 1,
    CALL_INITIATED: 2,
    CALL_RINGING: 3,
    CALL_ANSWERED: 4,
    CALL_COMPLETED: 5,
    CALL_BUSY: 5,
    CALL_NO_ANSWER: 5,
    CALL_FAILED: 5,
}

# ----- bridge session statuses (WhatsApp Web)
SESSION_STARTING = "starting"
SESSION_SCAN_QR = "scan_qr_code"  # waiting for a phone to scan the QR code
SESSION_WORKING = "working"  # paired and connected
SESSION_STOPPED = "stopped"
SESSION_FAILED = "failed"
