"""`stoa`: run the components and administer a local installation."""

from __future__ import annotations

import sys

import typer
from pydantic import ValidationError

from stoa.cli import admin, gateway, serve

app = typer.Typer(
    help="STOA: publish REST APIs and MCP servers to programs and AI agents.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(admin.app, name="admin")
serve.register(app)
gateway.register(app)


def settings_errors(error: ValidationError) -> list[str]:
    """One line per invalid setting, named as the environment variable that set it."""
    return [
        "STOA_" + "__".join(str(part).upper() for part in problem["loc"]) + ": " + problem["msg"]
        for problem in error.errors()
    ]


def main() -> None:
    """The `stoa` command: invalid settings end it with one line each, not a traceback."""
    try:
        app()
    except ValidationError as exc:
        if exc.title != "Settings":
            raise
        for line in settings_errors(exc):
            print(f"stoa: invalid setting {line}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
