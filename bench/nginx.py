"""nginx configurations: the fixed 1 KB upstream and the reference reverse proxy.

Both run in the foreground (`daemon off`) with everything under the run directory, so
the harness owns the processes and no system nginx state is touched.
"""

from __future__ import annotations

from pathlib import Path

BODY_BYTES = 1024

# Shared by both configurations: no access log (the comparison is proxying, and the
# gateway's logs are its own choice), long keep-alive so wrk and the proxy never reconnect.
_COMMON = """daemon off;
master_process on;
worker_processes {workers};
pid {run}/{name}.pid;
error_log {run}/{name}-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 10000000;
    keepalive_timeout 120s;
    client_body_temp_path {run}/{name}-tmp/body;
    proxy_temp_path {run}/{name}-tmp/proxy;
{servers}
}}
"""

_UPSTREAM = """    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location / {{
            default_type application/octet-stream;
            return 200 "{body}";
        }}
    }}"""

# The usual production shape: HTTP/1.1 to the backend with a keep-alive pool.
_PROXY = """    upstream backend {{
        server 127.0.0.1:{upstream_port};
        keepalive 128;
        keepalive_requests 10000000;
    }}
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location / {{
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}"""


def _write(run: Path, name: str, workers: int, servers: str) -> Path:
    (run / f"{name}-tmp").mkdir(exist_ok=True)
    path = run / f"{name}.conf"
    path.write_text(_COMMON.format(workers=workers, run=run, name=name, servers=servers))
    return path


def upstream_config(run: Path, port: int) -> Path:
    """One worker answering every path with 200 and a fixed 1 KB body."""
    return _write(run, "upstream", 1, _UPSTREAM.format(port=port, body="x" * BODY_BYTES))


def proxy_config(run: Path, port: int, upstream_port: int, workers: int) -> Path:
    """`workers` workers proxying every path to the upstream over kept-alive connections."""
    return _write(
        run, "nginx-proxy", workers, _PROXY.format(port=port, upstream_port=upstream_port)
    )


def argv(binary: str, config: Path) -> list[str]:
    return [binary, "-p", str(config.parent), "-e", "stderr", "-c", str(config)]
