"""Users of an external identity provider, created in STOA on their first call.

With `STOA_OIDC_ISSUER` set, people sign in at the customer's provider and STOA never
sees a password. STOA still needs a user row: applications, API keys and audit entries
belong to users. The mapping:

- **id**: `usr_` followed by 26 base32 characters of SHA-256(issuer, `sub`). The same
  person is the same STOA user on every call and every replica, two concurrent first calls
  cannot create two rows, and the same `sub` at another issuer is another user.
- **tenant**: the tenant claim (`STOA_AUTH__TENANT_CLAIM`) names an existing STOA tenant
  by slug; an unknown slug is refused. The first call fixes the user's tenant. A later
  token naming another tenant is refused: a token cannot carry a user, and the
  applications they own, across tenants. To move someone, delete their STOA user.
- **roles** come from the token on every call (the provider is the authority); STOA's own
  role bindings are not consulted for external users.
- **status**: an admin may disable the STOA user; a disabled user is refused even with a
  valid token.
- **email, name**: copied from `email` (unless `email_verified` is false, or another STOA
  user already has the address) and `name` / `preferred_username` when the row is made.
- **kind**: `service` when `sub` equals the `client_id` claim (a client-credentials token,
  RFC 9068 section 2.2), otherwise `human`.

Creating the row is audited as `user.create`, with the new user as the actor, in the
request's transaction.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import insert as generic_insert
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from stoa.controlplane.audit import service as audit
from stoa.controlplane.models import Tenant, User
from stoa.controlplane.principal import Principal
from stoa.controlplane.tenant import repository as tenant_repository
from stoa.kit.errors import Unauthenticated

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_MAX_NAME = 200
_MAX_EMAIL = 320


def external_user_id(issuer: str, subject: str) -> str:
    """The STOA user id of `subject` at `issuer` (same shape as `stoa.kit.ids.new_id`)."""
    digest = hashlib.sha256(f"{issuer.rstrip('/')}\x00{subject}".encode()).digest()
    value = int.from_bytes(digest[:17], "big") >> 6  # 130 bits, 26 base32 characters
    chars = []
    for _ in range(26):
        value, digit = divmod(value, 32)
        chars.append(_CROCKFORD[digit])
    return "usr_" + "".join(reversed(chars))


async def tenant_named_by_token(session: AsyncSession, slug: str | None) -> Tenant | None:
    """The tenant the token's tenant claim names; `Unauthenticated` if there is no such
    tenant (the provider and STOA disagree, and guessing would break isolation)."""
    if slug is None:
        return None
    tenant = await tenant_repository.by_slug(session, slug)
    if tenant is None:
        raise Unauthenticated(f"the token names tenant {slug!r}, which does not exist in STOA")
    return tenant


def _profile(claims: dict[str, Any]) -> tuple[str | None, str]:
    email = claims.get("email")
    if (
        not isinstance(email, str)
        or "@" not in email
        or len(email) > _MAX_EMAIL
        or claims.get("email_verified") is False
    ):
        email = None
    name = next(
        (
            value
            for value in (claims.get("name"), claims.get("preferred_username"), email)
            if isinstance(value, str) and value.strip()
        ),
        str(claims["sub"]),
    )
    return email, name.strip()[:_MAX_NAME]


async def _insert_if_absent(session: AsyncSession, values: dict[str, Any]) -> bool:
    """INSERT the user row unless a row with its id (or email) exists; whether it did."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        statement: Any = postgresql_insert(User).values(**values).on_conflict_do_nothing()
    elif dialect == "sqlite":
        statement = sqlite_insert(User).values(**values).on_conflict_do_nothing()
    else:  # pragma: no cover - STOA supports PostgreSQL and SQLite only
        statement = generic_insert(User).values(**values)
    result = await session.execute(statement)
    return bool(getattr(result, "rowcount", 0))


async def provision_external_user(
    session: AsyncSession, *, claims: dict[str, Any], principal: Principal
) -> User:
    """The active STOA user for verified `claims`, created on first sight.

    `principal` is the caller as the token describes them (its `user_id` is
    `external_user_id(issuer, sub)`); it is the actor of the audit entry. Raises
    `Unauthenticated` when the user is disabled or belongs to another tenant than the
    token names.
    """
    user = await session.get(User, principal.user_id)
    if user is None:
        email, name = _profile(claims)
        subject = str(claims["sub"])
        values: dict[str, Any] = {
            "id": principal.user_id,
            "kind": "service" if claims.get("client_id") == subject else "human",
            "email": email,
            "name": name,
            "tenant_id": principal.tenant_id,
            "status": "active",
        }
        created = await _insert_if_absent(session, values)
        # Not inserted: either a concurrent first call made the row, or another user owns
        # the email, in which case the row is made without it.
        if not created and email is not None and await session.get(User, principal.user_id) is None:
            created = await _insert_if_absent(session, {**values, "email": None})
        user = await session.get(User, principal.user_id)
        if user is None:  # pragma: no cover - the row exists after either INSERT
            raise Unauthenticated("the user could not be provisioned; try again")
        if created:
            await audit.record(
                session,
                principal,
                action="user.create",
                target_type="user",
                target_id=user.id,
                tenant_id=user.tenant_id,
                after=audit.snapshot_of(user),
            )
    if user.status != "active":
        raise Unauthenticated("the token's user is disabled in STOA")
    if user.tenant_id != principal.tenant_id:
        raise Unauthenticated(
            "the token names another tenant than the one this user belongs to in STOA"
        )
    return user
