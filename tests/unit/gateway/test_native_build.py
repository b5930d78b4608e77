"""The gateway compiled by mypyc (`make install`) is what runs, and never a stale build."""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from stoa.gateway import native


def test_every_gateway_module_imports() -> None:
    for path in native.compiled_sources():
        importlib.import_module(native.module_name(path))


def _built() -> bool:
    return native.MANIFEST.exists() and any(native.PACKAGE_DIR.rglob("handler.*.so"))


@pytest.mark.skipif(not _built(), reason="built without mypyc (make install NATIVE=0)")
def test_the_compiled_gateway_is_what_runs() -> None:
    handler = importlib.import_module("stoa.gateway.handler")
    assert handler.__file__ is not None
    assert handler.__file__.endswith(".so")


@pytest.mark.skipif(not _built(), reason="built without mypyc (make install NATIVE=0)")
def test_an_edited_source_runs_instead_of_its_stale_build(tmp_path: Path) -> None:
    root = native.SOURCE_ROOT
    copy = tmp_path / "src"
    shutil.copytree(root / "stoa", copy / "stoa", ignore=shutil.ignore_patterns("__pycache__"))
    for library in root.glob("stoa_gateway__mypyc*"):
        shutil.copy(library, copy)
    edited = copy / "stoa" / "gateway" / "handler.py"
    edited.write_text(edited.read_text() + "\nEDITED_AFTER_THE_BUILD = True\n")
    probe = "import stoa.gateway.handler as h; print(h.__file__, h.EDITED_AFTER_THE_BUILD)"
    result = subprocess.run(
        [sys.executable, "-c", probe],
        env={"PYTHONPATH": str(copy), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert result.stdout.split() == [str(edited), "True"]
    assert "older than its sources" in result.stderr
