"""Audit exports open safely in a spreadsheet."""

from __future__ import annotations

import pytest

from stoa.controlplane.audit.service import csv_cell


@pytest.mark.parametrize(
    "value",
    ['=HYPERLINK("http://evil.test","x")', "+1+1", "-2+3", "@SUM(A1)", "\tpadded", "\rx"],
)
def test_text_a_spreadsheet_would_evaluate_is_kept_as_text(value: str) -> None:
    assert csv_cell(value) == "'" + value


def test_ordinary_values_pass_unchanged() -> None:
    assert csv_cell("admin@demo.local") == "admin@demo.local"
    assert csv_cell(7) == 7
    assert csv_cell(None) == ""
    assert csv_cell({"b": 1, "a": "=x"}) == '{"a":"=x","b":1}'
