"""A mistyped setting stops `stoa` with a line naming the variable, not a traceback."""

from __future__ import annotations

import sys

import pytest

from stoa.cli.main import main


def test_invalid_setting_is_named_and_nothing_starts(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STOA_GATEWAY__SYNC_BACKOFF_MAX_SECONDS", "0.5")
    monkeypatch.setattr(sys, "argv", ["stoa", "gateway", "--port", "1"])
    with pytest.raises(SystemExit) as ended:
        main()
    assert ended.value.code == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "stoa: invalid setting STOA_GATEWAY__SYNC_BACKOFF_MAX_SECONDS: "
        "Input should be greater than or equal to 1"
    ]
    assert "Traceback" not in err
