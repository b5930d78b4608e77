"""The harness's system tools, installed from Debian when missing: nothing from elsewhere."""

from __future__ import annotations

import os
import shutil
import subprocess

# command -> Debian package providing it
PACKAGES = {"nginx": "nginx-light", "wrk": "wrk"}
_SBIN = ("/usr/sbin", "/sbin")


def find(command: str) -> str | None:
    # nginx lives in /usr/sbin, which an unprivileged PATH may lack.
    return shutil.which(command) or shutil.which(command, path=os.pathsep.join(_SBIN))


def ensure_tools() -> dict[str, str]:
    """Return the path of every required command, installing missing ones with apt-get."""
    missing = [package for command, package in PACKAGES.items() if find(command) is None]
    if missing:
        if os.geteuid() != 0:
            names = " ".join(missing)
            raise SystemExit(f"bench needs {names}: sudo apt-get install -y {names}")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "--no-install-recommends", *missing]
        print(f"installing {' '.join(missing)} from Debian", flush=True)
        if subprocess.run(install, env=env, check=False).returncode != 0:
            # A fresh container has no package lists yet.
            subprocess.run(["apt-get", "update"], env=env, check=True)
            subprocess.run(install, env=env, check=True)
    paths = {command: find(command) for command in PACKAGES}
    absent = [command for command, path in paths.items() if path is None]
    if absent:
        raise SystemExit(f"still missing after installation: {', '.join(absent)}")
    return {command: path for command, path in paths.items() if path is not None}
