"""An independent OpenID Provider on loopback: panva's `oidc-provider` on Node 22.

The npm project (package.json + package-lock.json, and the provider script) lives in
`tests/integration/identity/oidc_provider/`. `npm ci` installs it once into a cache
directory keyed by the lock file's hash (about 2 s; later runs reuse it). Node 22 is the
system `node` when it is recent enough, otherwise `npx -y node@22` fetches it from the
npm registry once (about 10 s the first time).

Only a missing `npm`/`npx` skips the tests that use this; any other failure (registry
unreachable, install or start-up error) fails them, loudly.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

PROJECT = Path(__file__).resolve().parent.parent / "integration" / "identity" / "oidc_provider"
SCRIPT = "provider.mjs"
_NODE_MAJOR = 22


def _run(command: list[str], *, cwd: Path | None = None, timeout: float) -> str:
    completed = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} failed ({completed.returncode}):\n"
            f"{completed.stdout[-2000:]}\n{completed.stderr[-4000:]}"
        )
    return completed.stdout


def node22() -> str:
    """The path of a Node >= 22 executable. Skips the test only without npm."""
    system_node = shutil.which("node")
    if system_node:
        version = _run([system_node, "--version"], timeout=30).strip().lstrip("v")
        if int(version.split(".")[0]) >= _NODE_MAJOR:
            return system_node
    npx = shutil.which("npx")
    if npx is None or shutil.which("npm") is None:
        pytest.skip("npm is not installed: the external OIDC provider needs Node and npm")
    script = "process.stdout.write(process.execPath)"
    path = _run([npx, "-y", f"node@{_NODE_MAJOR}", "-e", script], timeout=300).strip()
    if not Path(path).is_file():
        raise RuntimeError(f"npx node@{_NODE_MAJOR} did not report its executable: {path!r}")
    return path


def installed_project() -> Path:
    """A directory with the provider script and its `node_modules`, installed by `npm ci`."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed: the external OIDC provider needs Node and npm")
    lock = (PROJECT / "package-lock.json").read_bytes()
    cache_root = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "stoa-tests"
    target = cache_root / f"oidc-provider-{hashlib.sha256(lock).hexdigest()[:16]}"
    if not (target / "node_modules" / "oidc-provider" / "package.json").is_file():
        cache_root.mkdir(parents=True, exist_ok=True)
        # Install beside the target, then rename: a half-finished install is never reused.
        staging = Path(tempfile.mkdtemp(prefix="oidc-provider-", dir=cache_root))
        for name in ("package.json", "package-lock.json"):
            shutil.copy2(PROJECT / name, staging / name)
        _run(
            [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=staging,
            timeout=300,
        )
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    # The script is copied every time so edits to it take effect without a reinstall; it
    # must sit beside node_modules for its `import 'oidc-provider'` to resolve.
    shutil.copy2(PROJECT / SCRIPT, target / SCRIPT)
    return target


@dataclass
class ProviderClient:
    client_id: str
    claims: dict[str, Any] = field(default_factory=dict)
    claims_by_scope: dict[str, dict[str, Any]] = field(default_factory=dict)
    ttl: int = 600
    client_secret: str = field(default_factory=lambda: os.urandom(24).hex())


class OidcProvider:
    """One running provider process; `token()` gets client-credentials access tokens."""

    def __init__(
        self,
        node: str,
        project: Path,
        *,
        port: int,
        jwks: dict[str, Any],
        resources: list[str],
        clients: list[ProviderClient],
        scratch: Path,
    ) -> None:
        self.issuer = f"http://127.0.0.1:{port}"
        self.clients = {client.client_id: client for client in clients}
        config = {
            "issuer": self.issuer,
            "port": port,
            "jwks": jwks,
            "resources": resources,
            "clients": [
                {
                    "client_id": c.client_id,
                    "client_secret": c.client_secret,
                    "claims": c.claims,
                    "claims_by_scope": c.claims_by_scope,
                    "ttl": c.ttl,
                }
                for c in clients
            ],
        }
        config_path = scratch / f"provider-{port}.json"
        config_path.write_text(json.dumps(config))
        config_path.chmod(0o600)
        self._log = (scratch / f"provider-{port}.log").open("w")
        self._process = subprocess.Popen(
            [node, str(project / SCRIPT), str(config_path)],
            cwd=project,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        self._await_ready(timeout=30)

    def _await_ready(self, *, timeout: float) -> None:
        assert self._process.stdout is not None
        line: list[str] = []
        reader = threading.Thread(
            target=lambda: line.append(self._process.stdout.readline()),  # type: ignore[union-attr]
            daemon=True,
        )
        reader.start()
        reader.join(timeout)
        if not line or line[0].strip() != "ready":
            self.stop()
            log = Path(self._log.name).read_text()
            raise RuntimeError(f"the OIDC provider did not start: {line!r}\n{log[-4000:]}")

    def token(self, client_id: str, *, resource: str, scope: str = "stoa:read") -> str:
        client = self.clients[client_id]
        response = httpx.post(
            f"{self.issuer}/token",
            data={"grant_type": "client_credentials", "scope": scope, "resource": resource},
            auth=(client.client_id, client.client_secret),
            timeout=10,
        )
        response.raise_for_status()
        token: str = response.json()["access_token"]
        return token

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
        if self._process.stdout is not None:
            self._process.stdout.close()
        self._log.close()
