"""Read the conformance fixtures under ``tests/providers/fixtures/<provider>/``.

Each directory's ``SOURCES.md`` names where every fixture comes from (repository, path and
commit, or URL). Tests feed these to the adapters and serve them from the loopback servers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parent / "fixtures"


def raw(provider: str, name: str) -> bytes:
    return (ROOT / provider / name).read_bytes()


def load(provider: str, name: str) -> Any:
    return json.loads(raw(provider, name))


def sources(provider: str) -> str:
    return (ROOT / provider / "SOURCES.md").read_text()
