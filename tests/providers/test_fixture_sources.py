"""Every conformance fixture names its source: a fixture we invented would prove only that we
agree with ourselves."""

import json

import pytest

from tests.providers.fixture_files import ROOT

PROVIDERS = sorted(path.name for path in ROOT.iterdir() if path.is_dir())


def test_every_provider_has_fixtures():
    assert set(PROVIDERS) >= {"evolution", "meta", "telnyx", "twilio", "waha"}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_each_fixture_is_listed_in_sources_and_parses(provider):
    sources = (ROOT / provider / "SOURCES.md").read_text()
    files = sorted(p for p in (ROOT / provider).iterdir() if p.name != "SOURCES.md")
    assert files, f"no fixtures for {provider}"
    for path in files:
        assert f"`{path.name}`" in sources, f"{provider}/{path.name} has no line in SOURCES.md"
        if path.suffix == ".json":
            json.loads(path.read_bytes())
