"""The gateway compiled to C with mypyc, and the guard that keeps a stale build out.

`scripts/build_native.py` (run by `make install`) compiles the gateway's modules into
extension modules beside their sources. Python imports an extension module before a `.py`
of the same name, so once built, the compiled code is what runs. The build writes
`native-build.json` here: the fingerprint of the sources it compiled. When the sources
have changed since (an edit without `make install`), `use_fresh_code` makes the import
system skip every compiled module of that build, so the gateway runs what the sources say,
only slower, and says so once on stderr.

This module must stay interpreted: it is what decides whether the compiled ones load.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import sys
from collections.abc import Iterable, Sequence
from importlib.abc import MetaPathFinder
from pathlib import Path
from types import ModuleType

PACKAGE_DIR = Path(__file__).resolve().parent
SOURCE_ROOT = PACKAGE_DIR.parent.parent
MANIFEST = PACKAGE_DIR / "native-build.json"
# Interpreted on purpose: the package itself and this guard run before any compiled
# module; msgspec Structs with union fields, because mypyc rewrites a union annotation
# into `type` and msgspec decodes by the annotations.
NOT_COMPILED = frozenset(
    {
        "stoa/gateway/__init__.py",
        "stoa/gateway/native.py",
        "stoa/gateway/mcp/upstream/reply.py",
        "stoa/gateway/telemetry/access_line.py",
    }
)


def compiled_sources() -> list[Path]:
    """Every module of the gateway that the build compiles, sorted."""
    return sorted(
        path
        for path in PACKAGE_DIR.rglob("*.py")
        if path.relative_to(SOURCE_ROOT).as_posix() not in NOT_COMPILED
    )


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SOURCE_ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def fingerprint(sources: Iterable[Path], toolchain: str) -> str:
    """A digest of the sources' names and contents and of the compiler's version."""
    digest = hashlib.sha256(toolchain.encode())
    for path in sources:
        digest.update(path.relative_to(SOURCE_ROOT).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def read_manifest() -> dict[str, object] | None:
    try:
        loaded = json.loads(MANIFEST.read_text())
    except (OSError, ValueError):
        return None
    return loaded if isinstance(loaded, dict) else None


class _SourceOnly(MetaPathFinder):
    """Finds the listed modules as `.py` sources, never as extension modules."""

    def __init__(self, modules: frozenset[str]) -> None:
        self._modules = modules

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self._modules or not path:
            return None
        name = fullname.rpartition(".")[2]
        for directory in path:
            for candidate in (
                Path(directory) / f"{name}.py",
                Path(directory) / name / "__init__.py",
            ):
                if candidate.is_file():
                    return importlib.util.spec_from_file_location(
                        fullname,
                        candidate,
                        submodule_search_locations=[str(candidate.parent)]
                        if candidate.name == "__init__.py"
                        else None,
                    )
        return None


def use_fresh_code() -> None:
    """Called once when `stoa.gateway` is imported: when the compiled build does not match
    the sources, load every module from source instead."""
    manifest = read_manifest()
    if manifest is None:
        return
    sources = compiled_sources()
    current = fingerprint(sources, str(manifest.get("toolchain", "")))
    if current == manifest.get("fingerprint"):
        return
    names = manifest.get("modules")
    stale = frozenset(str(name) for name in names) if isinstance(names, list) else frozenset()
    stale |= {module_name(path) for path in sources}
    sys.meta_path.insert(0, _SourceOnly(stale))
    print(
        "stoa: the compiled gateway is older than its sources; running the sources "
        "(slower). `make install` rebuilds it.",
        file=sys.stderr,
    )
