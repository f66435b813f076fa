"""Normalized statuses, event kinds and error codes shared by every provider and by the
delivery pipeline. Each constant says what it means; ``docs/ADDING_A_PROVIDER.md`` says which
``InboundEvent`` fields each kind fills."""

# ----- event kinds (InboundEvent.kind)
INBOUND_MESSAGE = "message.inbound"  # someone wrote to the organization (text, media, caption)
MESSAGE_STATUS = "message.status"  # a provider reports progress of an outbound message
# A customer tapped something we sent: a reply button, a list row, or a template's quick-reply
# button. ``reply`` holds its id and title; ``related_message_id`` the message it answers when
# the provider says. It is the customer writing, so it opens the service window like a message.
INTERACTIVE_REPLY = "message.reply"
# A customer reacted to a message with an emoji; ``reaction.emoji`` is empty when the reaction
# was removed, ``related_message_id`` is the message reacted to.
REACTION = "message.reaction"
# A notice from the platform about a contact, not a message they wrote (Meta "system"
# messages: the customer changed number, their identity key changed). ``system`` holds it.
SYSTEM_NOTICE = "system.notice"
CALL_STATUS = "call.status"  # a provider reports progress of a call
# A provider reports what a call cost (Telnyx ``call.cost``); ``cost``/``currency`` are set.
CALL_COST = "call.cost"
# Mid-call progress that changes no status but may need the adapter to act (Telnyx: a speak or
# playback ended, so the next instruction of the call's script can run). The webhook endpoint
# hands these, and ``call.status`` events, to ``VoipProvider.continue_call``.
CALL_PROGRESS = "call.progress"
SESSION_STATUS = "session.status"  # a bridge's session changed (pairing, connected, failed)

# ----- message statuses, in the order a message moves through them
STATUS_QUEUED = "queued"  # stored, waiting for a worker
STATUS_SENDING = "sending"  # claimed by a worker, provider call under way
STATUS_SENT = "sent"  # the provider accepted it
STATUS_DELIVERED = "delivered"  # it reached the recipient's device
STATUS_READ = "read"  # the recipient opened it
STATUS_FAILED = "failed"  # it will not be delivered; the reason is kept
# A voice message was played. Reported as ``status = read`` (played implies read, and the rank
# below stays the contract) with ``provider_status = "played"`` so the detail is not lost.
STATUS_PLAYED = "played"

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
CALL_BUSY = "busy"  # the far end was busy or declined the call
CALL_NO_ANSWER = "no_answer"  # nobody picked up (including a call we cancelled while ringing)
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
CALL_FINAL_STATUSES = frozenset({CALL_COMPLETED, CALL_BUSY, CALL_NO_ANSWER, CALL_FAILED})

# ----- bridge session statuses (WhatsApp Web)
SESSION_STARTING = "starting"
SESSION_SCAN_QR = "scan_qr_code"  # waiting for a phone to scan the QR code
SESSION_WORKING = "working"  # paired and connected
SESSION_STOPPED = "stopped"
SESSION_FAILED = "failed"

# ----- who a WhatsApp conversation is with (InboundEvent.chat_kind)
CHAT_DIRECT = "direct"  # one person; ``from_number`` is their phone when it is known
CHAT_GROUP = "group"  # a group (``…@g.us``): ``chat_id`` is the group, ``sender_id`` the member
CHAT_BROADCAST = "broadcast"  # status updates and broadcast lists (``…@broadcast``)
CHAT_CHANNEL = "channel"  # a WhatsApp channel (``…@newsletter``)

# ----- who a sender is (InboundEvent.sender_kind)
SENDER_PHONE = "phone"  # a phone number; ``from_number`` holds it in E.164
# A WhatsApp "linked id" (``…@lid``): a privacy alias, not a phone number. ``from_number`` is
# set only when the provider also gave the phone (Evolution ``remoteJidAlt``).
SENDER_LID = "lid"
SENDER_OTHER = "other"

# ----- reply kinds (InboundEvent.reply.kind)
REPLY_BUTTON = "button"  # a reply button of an interactive message
REPLY_LIST = "list"  # a row of an interactive list
REPLY_TEMPLATE_BUTTON = "template_button"  # a template's quick-reply button (Meta type "button")

# ----- normalized error codes, in ProviderError.code and InboundEvent.error_code
# Free-form text to a contact whose 24-hour customer-service window is closed (Meta 131047,
# Twilio 63016): send an approved template instead. The provider's own code is in the message.
ERROR_OUTSIDE_WINDOW = "outside_service_window"
# The provider does not have this template in this language, or it is paused or disabled
# (Meta 132001, 132015, 132016). Another integration where it is approved may send it.
ERROR_TEMPLATE_UNAVAILABLE = "template_unavailable"
# The template's parameters do not fit what the provider approved (Meta 132000, 132008, 132012).
ERROR_TEMPLATE_PARAMETERS = "template_parameters_invalid"
# The integration's provider cannot do what was asked (a template on a provider without
# templates, hang-up on a provider without call control).
ERROR_UNSUPPORTED = "unsupported"
# Call instructions this provider cannot carry (TwiML verbs Telnyx has no equivalent for).
ERROR_INSTRUCTIONS_UNSUPPORTED = "instructions_not_supported"
ERROR_NO_INSTRUCTIONS = "no_call_instructions"
ERROR_MEDIA_TOO_LARGE = "media_too_large"  # a download would exceed the caller's size limit
