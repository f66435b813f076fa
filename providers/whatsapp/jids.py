"""WhatsApp addresses (JIDs) as bridges report them, and what each one is.

``14155550123@c.us`` and ``14155550123@s.whatsapp.net`` (``:<device>`` may follow the number)
are a phone; ``120363…@g.us`` is a group; ``…@lid`` is a linked id, a privacy alias that is
*not* a phone number; ``status@broadcast`` / ``…@broadcast`` are status updates and
broadcast lists; ``…@newsletter`` is a channel. Sources: WAHA ``src/core/utils/jids.ts`` and
the engines' ``toCusFormat`` (devlikeapro/waha), Evolution API's ``remoteJidAlt`` handling
(EvolutionAPI/evolution-api ``whatsapp.baileys.service.ts``).
"""

from __future__ import annotations

from typing import Any

from providers import events

PHONE_SERVERS = ("c.us", "s.whatsapp.net")


def split(jid: Any) -> tuple[str, str]:
    """(user, server) with any ``:<device>`` suffix of the user removed."""
    text = str(jid or "").strip()
    user, _, server = text.partition("@")
    return user.split(":", 1)[0], server.lower()


def chat_kind(jid: Any) -> str:
    user, server = split(jid)
    if server == "g.us":
        return events.CHAT_GROUP
    if server == "broadcast":
        return events.CHAT_BROADCAST
    if server == "newsletter":
        return events.CHAT_CHANNEL
    return events.CHAT_DIRECT


def sender_kind(jid: Any) -> str:
    user, server = split(jid)
    if server in PHONE_SERVERS and user.isdigit():
        return events.SENDER_PHONE
    if server == "lid":
        return events.SENDER_LID
    return events.SENDER_OTHER


def phone(jid: Any) -> str:
    """E.164 for a phone JID; "" for a group, a linked id, a broadcast or a channel.

    The digits are WhatsApp's own id of the number, kept as given: WhatsApp ids of Brazilian
    mobiles often lack the ninth digit that numbering plans (and ``phonenumbers``) now require,
    yet they are the address that works.
    """
    user, server = split(jid)
    if server not in PHONE_SERVERS or not user.isdigit() or not 7 <= len(user) <= 15:
        return ""
    return f"+{user}"


def cus(jid: Any) -> str:
    """The ``@c.us`` form WAHA uses in message ids (``…@s.whatsapp.net`` → ``…@c.us``)."""
    user, server = split(jid)
    if server in PHONE_SERVERS:
        return f"{user}@c.us"
    return str(jid or "")


def for_phone(number: str) -> str:
    """The chat id of a phone number (``+14155550123`` → ``14155550123@c.us``)."""
    return f"{number.lstrip('+')}@c.us"


__all__ = ["chat_kind", "cus", "for_phone", "phone", "sender_kind", "split"]
