from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=False)
def encryption_key_check(app_configs, **kwargs):
    """Without DEBUG, refuse to run with no encryption key: credentials would be unreadable later."""
    if settings.DEBUG:
        return []
    problems = []
    if not settings.FIELD_ENCRYPTION_KEY:
        problems.append(
            Error(
                "FIELD_ENCRYPTION_KEY is not set.",
                hint="Set FIELD_ENCRYPTION_KEY to a long random string (keep it, and SECRET_KEY: "
                "together they decrypt stored credentials).",
                id="integrations.E001",
            )
        )
    if not settings.SECRET_KEY:
        problems.append(Error("SECRET_KEY is not set.", id="integrations.E002"))
    return problems
