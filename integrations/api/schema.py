"""OpenAPI details drf-spectacular cannot infer: the tenancy header and the error responses."""

from __future__ import annotations

from drf_spectacular import openapi
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

from integrations.api.permissions import ORG_HEADER, IsOrganizationMember

ERROR_COMPONENT = "Error"
ERROR_SCHEMA = {
    "type": "object",
    "description": "Every error has this shape.",
    "properties": {
        "code": {"type": "string", "description": "Stable, machine-readable error code."},
        "detail": {"type": "string", "description": "What went wrong, for a person."},
        "errors": {
            "type": "object",
            "description": "Field name → list of messages (validation errors; empty otherwise).",
            "additionalProperties": {},
        },
    },
    "required": ["code", "detail", "errors"],
}
ERROR_RESPONSES = {
    "400": "Invalid input, or X-Org-Id missing while the user belongs to several organizations.",
    "401": "Not authenticated.",
    "403": "Not a member of the organization, or the role does not allow this.",
    "404": "Not found (including objects of other organizations).",
    "409": "The request conflicts with the current state (e.g. switching to an unusable integration).",
    "429": "Too many write requests; retry after the number of seconds in Retry-After.",
}


class AutoSchema(openapi.AutoSchema):
    def get_override_parameters(self):
        parameters = list(super().get_override_parameters())
        if any(isinstance(permission, IsOrganizationMember) for permission in self.view.get_permissions()):
            parameters.append(
                OpenApiParameter(
                    ORG_HEADER,
                    OpenApiTypes.STR,
                    OpenApiParameter.HEADER,
                    required=False,
                    description="Organization id or slug; optional when you belong to exactly one organization.",
                )
            )
        return parameters


def add_error_responses(result, generator, request, public):
    """Document the shared error body on every operation, with ``Retry-After`` on 429."""
    result.setdefault("components", {}).setdefault("schemas", {})[ERROR_COMPONENT] = ERROR_SCHEMA
    ref = {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            for code, response in responses.items():
                # An error an operation documents itself (e.g. 413) has the shared body too.
                if code.startswith("4") and "content" not in response:
                    response["content"] = {"application/json": {"schema": ref}}
            for code, description in ERROR_RESPONSES.items():
                if code in responses:
                    continue
                response = {"description": description, "content": {"application/json": {"schema": ref}}}
                if code == "429":
                    response["headers"] = {
                        "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}
                    }
                responses[code] = response
    return result
