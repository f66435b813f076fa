"""TwiML call instructions translated into a script another provider can run.

Twilio runs TwiML itself; Telnyx Call Control runs commands we send while the call is up. The
verbs with a Call Control equivalent are translated, in order:

* ``<Say voice language loop>text</Say>`` → ``speak`` (Telnyx ``actions/speak``: ``payload``,
  ``voice``, ``language``);
* ``<Play loop>url</Play>`` → ``play`` (``actions/playback_start``: ``audio_url``, ``loop``);
* ``<Pause length>`` → ``speak`` of SSML ``<break time="Ns"/>`` (Call Control has no pause);
* ``<Hangup/>`` → ``hangup``; the script also ends with a hang-up, as TwiML does.

Any other verb (``Gather``, ``Dial``, ``Record``, ``Redirect``, …) cannot be carried: the
caller gets ``InstructionsNotCarried`` naming it, so a failover never dials a silent call.
The markup is bounded in size and steps, and a document type or entity declaration is refused
(expat would not expand external entities, but there is no reason to parse one at all).
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass

MAX_TWIML_CHARS = 4000
MAX_STEPS = 20
MAX_LOOP = 10
MAX_PAUSE_SECONDS = 60


class InstructionsNotCarried(ValueError):
    """TwiML this translation cannot carry; the message says what and why."""


@dataclass(frozen=True)
class Step:
    """One instruction: ``action`` is speak, play or hangup."""

    action: str
    text: str = ""  # speak: what to say (plain text, or SSML when ``ssml``)
    ssml: bool = False
    voice: str = ""  # speak: the TwiML voice asked for ("" = provider default)
    language: str = ""
    url: str = ""  # play
    loop: int = 1

    def as_list(self) -> list:
        return [self.action, self.text, int(self.ssml), self.voice, self.language, self.url, self.loop]

    @classmethod
    def from_list(cls, values: list) -> Step:
        action, text, ssml, voice, language, url, loop = values
        return cls(action=str(action), text=str(text), ssml=bool(ssml), voice=str(voice), language=str(language),
                   url=str(url), loop=int(loop))


def _loop(element: ElementTree.Element) -> int:
    try:
        value = int(element.get("loop", "1"))
    except ValueError:
        raise InstructionsNotCarried(f"<{element.tag}> has a loop that is not a number.") from None
    if value == 0 or value > MAX_LOOP:
        raise InstructionsNotCarried(f"<{element.tag} loop> must be 1-{MAX_LOOP} (0, forever, cannot be carried).")
    return max(value, 1)


def translate(twiml: str) -> list[Step]:
    """The steps of a TwiML ``<Response>``, or ``InstructionsNotCarried``."""
    if len(twiml) > MAX_TWIML_CHARS:
        raise InstructionsNotCarried(f"The TwiML is longer than {MAX_TWIML_CHARS} characters.")
    if "<!DOCTYPE" in twiml.upper() or "<!ENTITY" in twiml.upper():
        raise InstructionsNotCarried("TwiML with a document type or entities is not accepted.")
    try:
        root = ElementTree.fromstring(twiml.strip())
    except ElementTree.ParseError:
        raise InstructionsNotCarried("The TwiML is not well-formed XML.") from None
    if root.tag != "Response":
        raise InstructionsNotCarried("TwiML starts with <Response>.")
    steps: list[Step] = []
    for element in root:
        text = (element.text or "").strip()
        if element.tag == "Say":
            if not text:
                continue
            steps.append(Step("speak", text=text, voice=element.get("voice", ""), language=element.get("language", ""),
                              loop=_loop(element)))
        elif element.tag == "Play":
            if not text.startswith(("https://", "http://")) or element.get("digits"):
                raise InstructionsNotCarried("<Play> carries an audio URL (playing digits cannot be carried).")
            steps.append(Step("play", url=text, loop=_loop(element)))
        elif element.tag == "Pause":
            try:
                seconds = min(max(int(element.get("length", "1")), 1), MAX_PAUSE_SECONDS)
            except ValueError:
                raise InstructionsNotCarried("<Pause length> is not a number.") from None
            steps.append(Step("speak", text=f'<speak><break time="{seconds}s"/></speak>', ssml=True))
        elif element.tag == "Hangup":
            steps.append(Step("hangup"))
            break
        else:
            raise InstructionsNotCarried(f"<{element.tag}> has no equivalent on this provider.")
        if len(steps) > MAX_STEPS:
            raise InstructionsNotCarried(f"More than {MAX_STEPS} instructions.")
    if not steps or steps[-1].action != "hangup":
        steps.append(Step("hangup"))
    return steps


__all__ = ["InstructionsNotCarried", "Step", "translate"]
