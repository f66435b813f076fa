"""What a migration leaves behind: the integrations it created (wizard step 2's "set up a new
one") and did not end up using are removed when it is cancelled or completes, so abandoned
attempts do not stay on the dashboard, the cost cards and the calculator. One that became
primary or carried a message or call is kept (its history matters) and named in the log."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from integrations.models import ProviderMigration
from integrations.selectors.integrations import never_used_integrations
from integrations.services.integrations import integration_delete
from integrations.services.migration.state import created_integration_ids


@dataclass
class Cleanup:
    removed_names: list[str] = field(default_factory=list)
    removed_ids: list[str] = field(default_factory=list)
    kept_ids: list[str] = field(default_factory=list)

    def detail(self) -> str:
        """For the migration's log (English, like the rest of the log)."""
        text = ""
        if self.removed_names:
            text = f"Removed {', '.join(repr(name) for name in self.removed_names)}, created by this migration."
        if self.kept_ids:
            text = f"{text} Kept {len(self.kept_ids)} integration(s) it created that are primary or carried traffic.".strip()
        return text


def remove_unused_created(
    migration: ProviderMigration, *, actor: Any, reason: str, keep_id: Any = None
) -> Cleanup:
    """Delete (audited, through ``integration_delete``) the integrations ``migration`` created,
    except ``keep_id`` and those primary or used. Runs inside the caller's transaction."""
    keep = str(keep_id) if keep_id else None
    created = [pk for pk in created_integration_ids(migration) if pk != keep]
    result = Cleanup()
    if not created:
        return result
    for integration in never_used_integrations(organization=migration.organization, ids=created):
        integration_delete(integration=integration, actor=actor, reason=reason)
        result.removed_names.append(integration.display_name)
        result.removed_ids.append(str(integration.pk))
    result.kept_ids = [pk for pk in created if pk not in result.removed_ids]
    return result
