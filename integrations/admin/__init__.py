"""Django admin for organizations and their integrations.

Every write goes through ``integrations.services``: the admin never sets ``is_primary`` or saves
an integration itself. A staff user who is not a superuser sees and changes only organizations
where they are admin or owner.
"""

from integrations.admin import audit, calls, integrations, messaging, organizations, policies  # noqa: F401 (registers the ModelAdmins)
