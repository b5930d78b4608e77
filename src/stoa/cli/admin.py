"""`stoa admin ...`: local administration with the data dir's keys."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError

from stoa.kit.errors import StoaError
from stoa.kit.settings import Settings

app = typer.Typer(
    help="Administer a local installation (needs read access to STOA_DATA_DIR).",
    no_args_is_help=True,
)

T = TypeVar("T")
ROLE_HELP = "cpi-admin, tenant-admin, devops, viewer, or developer (a member without a role)"
Role = Annotated[list[str], typer.Option("--role", help=ROLE_HELP)]
Tenant = Annotated[str | None, typer.Option(help="Tenant slug")]
CreateTenant = Annotated[bool, typer.Option(help="Create the tenant if it does not exist")]


def _run(work: Coroutine[Any, Any, T]) -> T:
    """Run `work`; a domain or validation error becomes a one-line message and exit code 2."""
    try:
        return asyncio.run(work)
    except StoaError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(2) from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        typer.echo(f"error: {problems}", err=True)
        raise typer.Exit(2) from None


@app.command("create-user")
def create_user(
    email: Annotated[str, typer.Option(help="Login email")],
    role: Role,
    tenant: Tenant = None,
    name: Annotated[str | None, typer.Option(help="Display name")] = None,
    create_tenant: CreateTenant = False,
) -> None:
    """Create a user and print their initial password (shown once)."""
    from stoa.cli import local_admin

    created = _run(
        local_admin.create_user(
            Settings(),
            email=email,
            roles=role,
            tenant=tenant,
            name=name,
            create_tenant=create_tenant,
        )
    )
    typer.echo(f"user      {created.email} ({created.id})")
    typer.echo(f"tenant    {created.tenant or '(platform)'}")
    typer.echo(f"roles     {', '.join(created.roles) or '(developer)'}")
    typer.echo(f"password  {created.initial_password}")


@app.command("create-service-account")
def create_service_account(
    name: Annotated[str, typer.Option(help="Service account name")],
    role: Role,
    tenant: Tenant = None,
    create_tenant: CreateTenant = False,
) -> None:
    """Create a service account and print its client id and secret (shown once)."""
    from stoa.cli import local_admin

    created = _run(
        local_admin.create_service_account(
            Settings(), name=name, roles=role, tenant=tenant, create_tenant=create_tenant
        )
    )
    typer.echo(f"client_id      {created.client_id}")
    typer.echo(f"client_secret  {created.client_secret}")
    typer.echo(f"roles          {', '.join(created.roles) or '(none)'}")


@app.command("create-gateway-token")
def create_gateway_token(
    name: Annotated[
        str, typer.Option(help="One gateway (`edge-paris-1`) or a fleet (`eu`) that shares it")
    ] = "gateway",
) -> None:
    """Create a gateway token and print it (shown once): set it as STOA_GATEWAY_TOKEN."""
    from stoa.cli import local_admin

    issued = _run(local_admin.create_gateway_token(Settings(), name=name))
    typer.echo(f"id      {issued.id}")
    typer.echo(f"name    {issued.name}")
    typer.echo(f"token   {issued.secret}")


@app.command("token")
def token(
    user: Annotated[str, typer.Option(help="Email of a user, or client id of a service account")],
    minutes: Annotated[int, typer.Option(help="Lifetime in minutes")] = 15,
) -> None:
    """Print an access token for USER, signed with the platform's keys (local automation)."""
    from stoa.cli import local_admin

    typer.echo(_run(local_admin.issue_token(Settings(), user, minutes=minutes)))


@app.command("rotate-signing-key")
def rotate_signing_key() -> None:
    """Start signing tokens with a new key; the previous one stays published until the
    tokens it signed have expired."""
    from stoa.cli import local_admin

    typer.echo(f"new signing key {_run(local_admin.rotate_key(Settings()))}")
