"""Import target for multi-worker servers: `uvicorn stoa.controlplane.asgi:app`."""

from stoa.controlplane.app import create_app
from stoa.kit.settings import Settings

app = create_app(Settings())
