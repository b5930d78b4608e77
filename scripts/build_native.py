"""Compile the gateway with mypyc into extension modules beside its sources.

    python scripts/build_native.py           # build if the sources changed since the last build
    python scripts/build_native.py --clean   # remove the compiled modules (run the sources)

Run by `make install`. The gateway's request path is plain typed Python; mypyc turns it
into C that calls methods and reads attributes directly, which takes about a quarter off
the CPU of a proxied request (see bench/README.md). The build records a fingerprint of
what it compiled (`stoa.gateway.native`), so it is skipped when nothing changed, and an
edited source never runs as its stale compiled self.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path
from types import ModuleType

SOURCE_ROOT = Path(__file__).resolve().parent.parent / "src"


def _load_native() -> ModuleType:
    # Loaded from its file: importing `stoa.gateway` would run the stale-build guard.
    spec = importlib.util.spec_from_file_location(
        "stoa_native_build", SOURCE_ROOT / "stoa" / "gateway" / "native.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


native = _load_native()

GROUP = "stoa_gateway"


def _toolchain() -> str:
    import mypy.version

    return f"mypy {mypy.version.__version__}, {sys.implementation.cache_tag}"


def _compiled_files() -> list[Path]:
    """The extension modules of the last build: beside each source, and the group's
    shared library at the source root."""
    found = [
        path
        for path in native.PACKAGE_DIR.rglob("*")
        if path.name.endswith(tuple(EXTENSION_SUFFIXES)) and path.is_file()
    ]
    found += [path for path in SOURCE_ROOT.glob(f"{GROUP}__mypyc*") if path.is_file()]
    return found


def clean() -> None:
    for path in _compiled_files():
        path.unlink()
    native.MANIFEST.unlink(missing_ok=True)


def build() -> int:
    sources = native.compiled_sources()
    toolchain = _toolchain()
    wanted = native.fingerprint(sources, toolchain)
    manifest = native.read_manifest()
    if manifest is not None and manifest.get("fingerprint") == wanted and _compiled_files():
        print("compiled gateway: up to date")
        return 0
    clean()
    from mypyc.build import mypycify
    from setuptools import setup

    started = time.monotonic()
    relative = [str(path.relative_to(SOURCE_ROOT)) for path in sources]
    config = SOURCE_ROOT.parent / "pyproject.toml"
    with tempfile.TemporaryDirectory(prefix="stoa-mypyc-") as scratch:
        cwd = os.getcwd()
        os.chdir(SOURCE_ROOT)
        try:
            extensions = mypycify(
                [
                    "--config-file",
                    str(config),
                    "--cache-dir",
                    str(SOURCE_ROOT.parent / ".mypy_cache" / "mypyc"),
                    *relative,
                ],
                opt_level="3",
                group_name=GROUP,
                target_dir=str(Path(scratch) / "c"),
            )
            setup(
                name="stoa-gateway-native",
                ext_modules=extensions,
                script_args=[
                    "--quiet",
                    "build_ext",
                    "--inplace",
                    "--build-temp",
                    str(Path(scratch) / "build"),
                ],
            )
        finally:
            os.chdir(cwd)
    shutil.rmtree(SOURCE_ROOT / "build", ignore_errors=True)
    native.MANIFEST.write_text(
        json.dumps(
            {
                "fingerprint": wanted,
                "toolchain": toolchain,
                "modules": [native.module_name(path) for path in sources],
            },
            indent=1,
        )
        + "\n"
    )
    print(
        f"compiled gateway: {len(sources)} modules in {time.monotonic() - started:.0f} s "
        f"(mypyc, {toolchain})"
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clean", action="store_true", help="remove the compiled modules")
    args = parser.parse_args()
    if args.clean:
        clean()
        print("compiled gateway: removed; the gateway runs from its sources")
        return 0
    return build()


if __name__ == "__main__":
    sys.exit(main())
