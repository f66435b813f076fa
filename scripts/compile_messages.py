"""Compile every ``locale/*/LC_MESSAGES/*.po`` into its ``.mo`` with polib (pinned in
pyproject.toml), so a fresh clone shows its translations without GNU gettext installed.

Only catalogs whose ``.mo`` is missing or older than the ``.po`` are written. Fuzzy entries are
left out, as ``msgfmt`` (and Django's ``compilemessages``) leave them out.
"""

import sys
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parents[1]


def compile_catalog(po_path: Path) -> Path:
    catalog = polib.pofile(str(po_path))
    for entry in catalog.fuzzy_entries():
        catalog.remove(entry)
    mo_path = po_path.with_suffix(".mo")
    catalog.save_as_mofile(str(mo_path))
    return mo_path


def main() -> int:
    for po_path in sorted((ROOT / "locale").glob("*/LC_MESSAGES/*.po")):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        compile_catalog(po_path)
        print(f"compiled {mo_path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
