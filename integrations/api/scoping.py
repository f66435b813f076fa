"""Tenant scoping shared by the viewsets."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404

from audit.models import AuditEvent
from integrations.models import (
    Call,
    ConversationEvent,
    Message,
    MessageTemplate,
    OrganizationIntegration,
)


def _not_found_on_bad_id(lookup):
    try:
        return lookup()
    except (OrganizationIntegration.DoesNotExist, Message.DoesNotExist, Call.DoesNotExist,
            AuditEvent.DoesNotExist, MessageTemplate.DoesNotExist,
            ConversationEvent.DoesNotExist, DjangoValidationError, ValueError):
        raise Http404 from None


class OrganizationQuerysetMixin:
    """``get_object`` that answers 404 for a malformed id as for another tenant's id."""

    # Any segment reaches the view (the router's default stops at dots), so a malformed id gets
    # the API's JSON 404 rather than Django's HTML page.
    lookup_value_regex = "[^/]+"

    def get_object(self):
        queryset = self.filter_queryset(self.get_queryset())
        obj = _not_found_on_bad_id(lambda: queryset.get(pk=self.kwargs["pk"]))
        self.check_object_permissions(self.request, obj)
        return obj
