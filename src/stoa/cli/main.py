"""`stoa`: run the components and administer a local installation."""

from __future__ import annotations

import typer

from stoa.cli import admin, gateway, serve

app = typer.Typer(
    help="STOA: publish REST APIs and MCP servers to programs and AI agents.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(admin.app, name="admin")
serve.register(app)
gateway.register(app)


if __name__ == "__main__":
    app()
