"""What a provider class can do beyond the operations every provider has.

A provider lists these names in its ``features``; callers check ``Provider.supports(name)``
before calling an optional operation, and the shared contract tests exercise each operation
for every adapter that declares it. An optional operation a provider does not declare raises
``ProviderRejected(code="unsupported", fail_over=True)``.
"""

# ----- WhatsApp
TEMPLATES = "templates"  # send_message accepts OutboundMessage.template
TEMPLATE_IMPORT = "template_import"  # list_templates() returns the provider's templates
INTERACTIVE = "interactive"  # send_message accepts OutboundMessage.interactive
MEDIA = "media"  # send_message accepts attachments
MEDIA_DOWNLOAD = "media_download"  # download_media() fetches inbound media by reference
READ_RECEIPTS = "read_receipts"  # statuses include "read"
REACTIONS = "reactions"  # parse_webhook reports REACTION events
# The provider enforces WhatsApp's 24-hour customer-service window: free-form text to a contact
# who has not written in 24 hours is refused (ERROR_OUTSIDE_WINDOW); a template is needed.
SERVICE_WINDOW = "service_window"
QR_PAIRING = "qr_pairing"  # a bridge paired by scanning a QR code (pairing_state())
# Templates and interactive messages are sent as plain text (numbered options): the bridge has
# no native support, and no approval is involved.
TEXT_FALLBACK = "text_fallback"

# ----- VoIP
CALL_INSTRUCTIONS = "call_instructions"  # place_call honours OutboundCall.twiml / url
HANGUP = "hangup"  # hangup() ends or cancels a call
CALL_LOOKUP = "call_lookup"  # fetch_call() reads a call's status, duration and price
CALL_COST = "call_cost"  # the provider reports what each call cost (webhook or lookup)
# Instructions run as commands during the call (Telnyx): the webhook endpoint hands each
# answered / progress event to ``VoipProvider.continue_call`` (through a task).
CALL_SCRIPTS = "call_scripts"
STATUS_CALLBACKS = "status_callbacks"
TWIML = "twiml"  # instructions are TwiML natively

# ----- both
SIMULATED = "simulated"  # an in-process provider (sandbox)

ALL = frozenset({
    TEMPLATES, TEMPLATE_IMPORT, INTERACTIVE, MEDIA, MEDIA_DOWNLOAD, READ_RECEIPTS, REACTIONS,
    SERVICE_WINDOW, QR_PAIRING, TEXT_FALLBACK, CALL_INSTRUCTIONS, HANGUP, CALL_LOOKUP, CALL_COST, CALL_SCRIPTS,
    STATUS_CALLBACKS, TWIML, SIMULATED,
})
