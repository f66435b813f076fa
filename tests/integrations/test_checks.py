from django.core.checks import run_checks


def test_missing_encryption_key_fails_loudly_in_production(settings):
    settings.DEBUG = False
    settings.FIELD_ENCRYPTION_KEY = []
    ids = {message.id for message in run_checks()}
    assert "integrations.E001" in ids


def test_encryption_key_present_passes(settings):
    settings.DEBUG = False
    settings.FIELD_ENCRYPTION_KEY = ["k"]
    ids = {message.id for message in run_checks()}
    assert "integrations.E001" not in ids
