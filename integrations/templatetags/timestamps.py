"""``{{ value|ago }}``: a timestamp as every provider screen shows it — "3 minutes ago", with the
full date on hover and the ISO time for machines. ``{{ value|remaining }}`` is the same for a time to
come: "3 hours" (as in "open for another 3 hours")."""

from __future__ import annotations

from django import template
from django.utils.html import format_html

from integrations.reports.wording import full_when, relative_when, remaining_when

register = template.Library()


@register.filter
def ago(value) -> str:
    if not value:
        return "—"
    return format_html(
        '<time datetime="{}" title="{}">{}</time>', value.isoformat(), full_when(value), relative_when(value)
    )


@register.filter
def remaining(value) -> str:
    left = remaining_when(value) if value else ""
    if not left:
        return "—"
    return format_html('<time datetime="{}" title="{}">{}</time>', value.isoformat(), full_when(value), left)
