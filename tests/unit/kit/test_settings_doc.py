from __future__ import annotations

from pathlib import Path

from stoa.kit.settings_doc import render

DOC = Path(__file__).parents[3] / "docs" / "settings.md"


def test_settings_reference_is_up_to_date() -> None:
    assert DOC.read_text() == render(), (
        "docs/settings.md is stale: run `.venv/bin/python -m stoa.kit.settings_doc > "
        "docs/settings.md`"
    )


def test_every_setting_is_documented() -> None:
    for line in render().splitlines():
        if line.startswith("| `STOA_"):
            assert not line.endswith("|  |"), f"setting without a description: {line}"
