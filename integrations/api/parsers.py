"""The API's JSON parser: DRF's, bounded.

A request body is untrusted input that ends in PostgreSQL, so what no column can hold is refused
here with a 400 instead of failing later with a 500: JSON nested deeper than Python's parser can
recurse (50,000 brackets), and text with NUL characters or lone surrogates (``"\\u0000"``,
``"\\ud800"``), which neither ``text`` nor ``jsonb`` accepts.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from providers.config import string_problem


def unstorable_text(value: Any) -> str | None:
    """Why some text in ``value`` (keys included) cannot be stored, or None. Iterative."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            problem = string_problem(item)
            if problem:
                return problem
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


class BoundedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(_("JSON parse error - the body is nested too deeply.")) from None
        problem = unstorable_text(data)
        if problem:
            raise ParseError(_("JSON parse error - a text value %(problem)s.") % {"problem": problem})
        return data
