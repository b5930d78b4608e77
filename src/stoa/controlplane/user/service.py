"""Rules for users, their role bindings and service accounts.

- A user belongs to at most one tenant (`User.tenant_id`; None for platform users). A user
  with a tenant and no role is a developer.
- `cpi-admin` is bound with `tenant_id` None and holds everywhere; `tenant-admin`, `devops`
  and `viewer` are bound in the user's own tenant, so a user without a tenant cannot hold
  them.
- Reading users needs MEMBER_READ in their tenant (viewer, devops, tenant-admin); creating,
  changing, deleting them and binding roles needs MEMBER_MANAGE (tenant-admin); cpi-admin
  does both everywhere. Everyone reads themselves and may change their own name and
  password. Platform users and other tenants' users do not exist for anyone but cpi-admin.
- Only cpi-admin grants, removes or manages holders of `cpi-admin`.
- Nobody deletes or disables themselves, or gives up the last `tenant-admin` of their
  tenant (or the last `cpi-admin`): the guards against locking yourself out.
- Passwords and client secrets are stored as argon2id hashes; generated ones are returned
  once, by the function that generated them.

The CLI (`stoa admin create-user`, `create-service-account`, `token`) calls `create_user`,
`create_service_account`, `bind_role`, `find_login` and `roles_of` with a platform-admin
principal of its own, inside a transaction it commits.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from stoa.controlplane.audit import service as audit
from stoa.controlplane.authz import Action, authorize, require_platform_admin
from stoa.controlplane.models import RoleBinding, Tenant, User
from stoa.controlplane.pagination import PageRequest, fetch_page
from stoa.controlplane.principal import PLATFORM_ADMIN, TENANT_ROLES, Principal
from stoa.controlplane.tenant import repository as tenant_repository
from stoa.controlplane.user import repository
from stoa.controlplane.user.schemas import (
    ServiceAccountCreate,
    UserCreate,
    UserUpdate,
)
from stoa.kit.errors import Conflict, Forbidden, InvalidInput, NotFound
from stoa.kit.ids import new_id
from stoa.kit.passwords import generate_password, hash_password

CLIENT_ID_PREFIX = "stoa_sa_"
CLIENT_SECRET_PREFIX = "stoa_cs_"
# Roles whose last holder may not remove the role from themselves.
_LOCKOUT_GUARDED = frozenset({"tenant-admin", PLATFORM_ADMIN})


@dataclass(frozen=True, slots=True)
class UserView:
    """A user as the API shows it: the row's public fields, its tenant's slug and roles."""

    id: str
    kind: str
    email: str | None
    name: str
    tenant: str | None
    tenant_id: str | None
    status: str
    client_id: str | None
    roles: list[str]
    created_at: datetime
    updated_at: datetime


ViewT = TypeVar("ViewT", bound=UserView)


@dataclass(frozen=True, slots=True)
class CreatedUser(UserView):
    """A new user: `user` is the row; `initial_password` the generated password (shown
    once), or None when the creator chose one."""

    user: User
    initial_password: str | None = field(repr=False)


@dataclass(frozen=True, slots=True)
class CreatedServiceAccount(UserView):
    """A new service account: `user` is the row; `client_secret` is shown once."""

    user: User
    client_secret: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class RotatedSecret:
    client_id: str
    client_secret: str = field(repr=False)


def _build(
    cls: type[ViewT], row: User, tenant_slug: str | None, roles: Sequence[str], **extra: Any
) -> ViewT:
    return cls(
        id=row.id,
        kind=row.kind,
        email=row.email,
        name=row.name,
        tenant=tenant_slug,
        tenant_id=row.tenant_id,
        status=row.status,
        client_id=row.client_id,
        roles=sorted(roles),
        created_at=row.created_at,
        updated_at=row.updated_at,
        **extra,
    )


def _view(user: User, tenant_slug: str | None, roles: Sequence[str]) -> UserView:
    return _build(UserView, user, tenant_slug, roles)


async def _view_of(session: AsyncSession, user: User) -> UserView:
    slugs = await repository.tenant_slugs(session, [user.tenant_id])
    roles = await roles_of(session, user)
    return _view(user, slugs.get(user.tenant_id or ""), roles)


def _target_type(user: User) -> str:
    return "service_account" if user.kind == "service" else "user"


# --- lookups used to log in and mint tokens ------------------------------------------------


async def find_login(session: AsyncSession, email_or_client_id: str) -> User | None:
    """The user who logs in as `email_or_client_id`: a service account for a `stoa_sa_...`
    client id, otherwise the human with that email (any case). Whatever their status: the
    caller refuses disabled users."""
    login = email_or_client_id.strip()
    if login.startswith(CLIENT_ID_PREFIX):
        return await repository.by_client_id(session, login)
    return await repository.by_email(session, login.lower())


async def roles_of(session: AsyncSession, user: User) -> list[str]:
    """The roles `user` holds, sorted: `cpi-admin` if bound, and the tenant roles bound in
    the user's own tenant. What goes into the `roles` claim of their tokens."""
    bindings = await repository.bindings_of(session, user.id)
    return sorted(
        b.role
        for b in bindings
        if (b.role == PLATFORM_ADMIN and b.tenant_id is None)
        or (b.role != PLATFORM_ADMIN and b.tenant_id is not None and b.tenant_id == user.tenant_id)
    )


# --- who may see and change whom -----------------------------------------------------------


async def _authorized_user(
    session: AsyncSession, actor: Principal, user_id: str, action: Action
) -> User:
    user = await repository.by_id(session, user_id)
    what = f"user {user_id}"
    if user is None:
        raise NotFound(f"{what} does not exist")
    if user.tenant_id is None:
        # Platform users belong to no tenant: only cpi-admin knows they exist.
        if not actor.is_platform_admin:
            raise NotFound(f"{what} does not exist")
    else:
        authorize(actor, action, user.tenant_id, what=what)
    return user


async def readable_user(session: AsyncSession, actor: Principal, user_id: str) -> User:
    """The user, if `actor` is that user or may read their tenant's members."""
    if user_id == actor.user_id:
        user = await repository.by_id(session, user_id)
        if user is not None:
            return user
    return await _authorized_user(session, actor, user_id, Action.MEMBER_READ)


async def managed_user(session: AsyncSession, actor: Principal, user_id: str) -> User:
    """The user, if `actor` may manage them: MEMBER_MANAGE in their tenant, and cpi-admin
    for platform users and for anyone holding cpi-admin.

    `NotFound` when `actor` may not know the user exists, `Forbidden` when they may see
    but not manage them.
    """
    user = await _authorized_user(session, actor, user_id, Action.MEMBER_MANAGE)
    if not actor.is_platform_admin and await repository.binding(session, user.id, PLATFORM_ADMIN):
        raise Forbidden(f"managing user {user_id}, who holds cpi-admin, needs the role cpi-admin")
    return user


async def _tenant_for_new_member(
    session: AsyncSession, actor: Principal, slug: str | None, *, doing: str
) -> Tenant | None:
    """The tenant a new user or service account goes into (None: a platform user), after
    checking that `actor` may manage its members."""
    if slug is None:
        if actor.is_platform_admin:
            return None
        if actor.tenant_id is None:
            require_platform_admin(actor, doing=f"{doing} without a tenant")
        slug = actor.tenant_slug
        assert slug is not None
    tenant = await tenant_repository.by_slug(session, slug)
    if tenant is None:
        raise NotFound(f"tenant {slug} does not exist")
    authorize(actor, Action.MEMBER_MANAGE, tenant.id, what=f"tenant {slug}")
    return tenant


def _check_grantable(actor: Principal, role: str, tenant_id: str | None) -> None:
    if role == PLATFORM_ADMIN:
        require_platform_admin(actor, doing="granting cpi-admin")
    elif role in TENANT_ROLES and tenant_id is None:
        raise InvalidInput(
            f"{role} is a tenant role and this user has no tenant; grant it to a user of a "
            "tenant, or grant cpi-admin"
        )


async def _bind(session: AsyncSession, actor: Principal, user: User, role: str) -> RoleBinding:
    binding = RoleBinding(
        id=new_id("rb"),
        user_id=user.id,
        role=role,
        tenant_id=None if role == PLATFORM_ADMIN else user.tenant_id,
    )
    session.add(binding)
    await session.flush()
    await audit.record(
        session,
        actor,
        action="role_binding.create",
        target_type="role_binding",
        target_id=binding.id,
        tenant_id=binding.tenant_id,
        after=audit.snapshot_of(binding),
    )
    return binding


async def _unique_email(session: AsyncSession, email: str) -> None:
    if await repository.by_email(session, email) is not None:
        raise Conflict(f"a user with email {email} already exists; use another address")


# --- users ---------------------------------------------------------------------------------


async def me(session: AsyncSession, actor: Principal) -> UserView:
    """The caller, with the tenant and roles in force for this token (which an external
    identity provider may set differently from the stored bindings)."""
    user = await repository.by_id(session, actor.user_id)
    if user is None:
        raise NotFound(f"user {actor.user_id} does not exist")
    return _view(user, actor.tenant_slug, sorted(actor.roles))


async def list_users(
    session: AsyncSession,
    actor: Principal,
    page: PageRequest,
    *,
    tenant: str | None,
    email: str | None,
    kind: str | None,
) -> tuple[list[UserView], str | None]:
    """Every user for cpi-admin (narrowed by `tenant` slug); otherwise the users of the
    caller's tenant, which needs MEMBER_READ. Oldest first."""
    if actor.is_platform_admin:
        everywhere, tenant_id = True, None
        if tenant is not None:
            found = await tenant_repository.by_slug(session, tenant)
            if found is None:
                raise NotFound(f"tenant {tenant} does not exist")
            everywhere, tenant_id = False, found.id
    else:
        if actor.tenant_id is None:
            require_platform_admin(actor, doing="listing users without a tenant")
        if tenant is not None and tenant != actor.tenant_slug:
            raise NotFound(f"tenant {tenant} does not exist")
        assert actor.tenant_id is not None
        authorize(actor, Action.MEMBER_READ, actor.tenant_id, what=f"tenant {actor.tenant_slug}")
        everywhere, tenant_id = False, actor.tenant_id
    statement = repository.listing(
        tenant_id=tenant_id,
        everywhere=everywhere,
        email=None if email is None else email.strip().lower(),
        kind=kind,
    )
    users, cursor = await fetch_page(session, statement, User.id, page)
    roles = await repository.roles_by_user(session, [u.id for u in users])
    slugs = await repository.tenant_slugs(session, [u.tenant_id for u in users])
    views = [_view(u, slugs.get(u.tenant_id or ""), roles.get(u.id, [])) for u in users]
    return views, cursor


async def get_user(session: AsyncSession, actor: Principal, user_id: str) -> UserView:
    return await _view_of(session, await readable_user(session, actor, user_id))


async def _insert_member(
    session: AsyncSession, actor: Principal, user: User, roles: Sequence[str], *, kind: str
) -> None:
    """Store a new user or service account with its role bindings, audited as `<kind>.create`."""
    session.add(user)
    await session.flush()
    await audit.record(
        session,
        actor,
        action=f"{kind}.create",
        target_type=kind,
        target_id=user.id,
        tenant_id=user.tenant_id,
        after=audit.snapshot_of(user),
    )
    for role in roles:
        await _bind(session, actor, user, role)


async def create_user(session: AsyncSession, actor: Principal, data: UserCreate) -> CreatedUser:
    """Create a human user with `data.roles`.

    Without `data.tenant`, cpi-admin creates a platform user and anyone else a user of
    their own tenant. Without `data.password`, one is generated and returned once in
    `initial_password`. Raises `NotFound` (tenant), `Forbidden` (rights, or granting
    cpi-admin without holding it), `InvalidInput` (tenant role without tenant), `Conflict`
    (email taken).
    """
    tenant = await _tenant_for_new_member(session, actor, data.tenant, doing="creating a user")
    tenant_id = tenant.id if tenant is not None else None
    roles = sorted(set(data.roles))
    for role in roles:
        _check_grantable(actor, role, tenant_id)
    await _unique_email(session, data.email)
    initial_password = generate_password() if data.password is None else None
    password = data.password or initial_password
    assert password is not None
    user = User(
        id=new_id("usr"),
        kind="human",
        email=data.email,
        name=data.name,
        tenant_id=tenant_id,
        status="active",
        password_hash=await asyncio.to_thread(hash_password, password),
    )
    await _insert_member(session, actor, user, roles, kind="user")
    slug = tenant.slug if tenant is not None else None
    return _build(CreatedUser, user, slug, roles, user=user, initial_password=initial_password)


async def update_user(
    session: AsyncSession, actor: Principal, user_id: str, data: UserUpdate
) -> UserView:
    """Rename, enable or disable a user, or set their password.

    Users may change their own name and password; everything else needs `managed_user`
    rights. Nobody disables themselves (`Conflict`). Service accounts have no password
    (`InvalidInput`: rotate their secret instead). A password change is audited as its own
    entry, `user.password_change`, which records that it happened and nothing of it.
    """
    user = await readable_user(session, actor, user_id)
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    is_self = user.id == actor.user_id
    if not (is_self and set(changes) <= {"name", "password"}):
        user = await managed_user(session, actor, user_id)
    if is_self and changes.get("status") == "disabled":
        raise Conflict("you cannot disable yourself; ask another administrator to do it")
    if "password" in changes and user.kind == "service":
        raise InvalidInput(
            "service accounts have no password; rotate their client secret with "
            f"POST /v1/service-accounts/{user.id}/secret"
        )
    password = changes.pop("password", None)
    before = audit.snapshot_of(user)
    for attribute, value in changes.items():
        setattr(user, attribute, value)
    if password is not None:
        user.password_hash = await asyncio.to_thread(hash_password, password)
    await session.flush()
    if any(before[attribute] != value for attribute, value in changes.items()):
        status_changed = before["status"] != user.status
        verb = ("enable" if user.status == "active" else "disable") if status_changed else "update"
        await audit.record(
            session,
            actor,
            action=f"{_target_type(user)}.{verb}",
            target_type=_target_type(user),
            target_id=user.id,
            tenant_id=user.tenant_id,
            before=before,
            after=audit.snapshot_of(user),
        )
    if password is not None:
        await audit.record(
            session,
            actor,
            action="user.password_change",
            target_type="user",
            target_id=user.id,
            tenant_id=user.tenant_id,
            before=before,
            after=audit.snapshot_of(user),
        )
    return await _view_of(session, user)


async def delete_user(session: AsyncSession, actor: Principal, user_id: str) -> None:
    """Delete a user or service account, with their role bindings and the applications
    they own (and so those applications' subscriptions and keys). Nobody deletes
    themselves (`Conflict`); disabling keeps everything and is reversible."""
    user = await managed_user(session, actor, user_id)
    if user.id == actor.user_id:
        raise Conflict("you cannot delete yourself; ask another administrator to do it")
    before = {**audit.snapshot_of(user), "roles": await roles_of(session, user)}
    await session.delete(user)
    await session.flush()
    await audit.record(
        session,
        actor,
        action=f"{_target_type(user)}.delete",
        target_type=_target_type(user),
        target_id=user.id,
        tenant_id=user.tenant_id,
        before=before,
    )


# --- role bindings -------------------------------------------------------------------------


async def list_role_bindings(
    session: AsyncSession, actor: Principal, user_id: str
) -> list[RoleBinding]:
    """The user's bindings, for whoever may read the user."""
    user = await readable_user(session, actor, user_id)
    return await repository.bindings_of(session, user.id)


async def bind_role(
    session: AsyncSession, actor: Principal, user_id: str, role: str
) -> RoleBinding:
    """Grant `role` to the user. Needs `managed_user` rights, and cpi-admin to grant
    cpi-admin. `InvalidInput` for a tenant role to a user without tenant, `Conflict` when
    the user already holds it."""
    user = await managed_user(session, actor, user_id)
    _check_grantable(actor, role, user.tenant_id)
    if await repository.binding(session, user.id, role) is not None:
        raise Conflict(f"user {user.email or user.name} already has the role {role}")
    return await _bind(session, actor, user, role)


async def unbind_role(session: AsyncSession, actor: Principal, user_id: str, role: str) -> None:
    """Take `role` away from the user. Giving up the last tenant-admin of your tenant (or
    the last cpi-admin) yourself is a `Conflict`: someone else must hold it first."""
    user = await managed_user(session, actor, user_id)
    if role == PLATFORM_ADMIN:
        require_platform_admin(actor, doing="removing cpi-admin")
    binding = await repository.binding(session, user.id, role)
    if binding is None:
        raise NotFound(f"user {user.email or user.name} does not have the role {role}")
    if (
        user.id == actor.user_id
        and role in _LOCKOUT_GUARDED
        and await repository.count_holders(session, role, binding.tenant_id) <= 1
    ):
        where = "the platform" if binding.tenant_id is None else "your tenant"
        raise Conflict(
            f"you are the last {role} of {where}; grant {role} to someone else before giving it up"
        )
    before = audit.snapshot_of(binding)
    await session.delete(binding)
    await session.flush()
    await audit.record(
        session,
        actor,
        action="role_binding.delete",
        target_type="role_binding",
        target_id=binding.id,
        tenant_id=binding.tenant_id,
        before=before,
    )


# --- service accounts ----------------------------------------------------------------------


def _new_client_secret() -> str:
    return CLIENT_SECRET_PREFIX + secrets.token_urlsafe(32)


async def create_service_account(
    session: AsyncSession, actor: Principal, data: ServiceAccountCreate
) -> CreatedServiceAccount:
    """Create a service account (a user with kind `service`, no email and no password)
    with a `stoa_sa_...` client id and a `stoa_cs_...` client secret, returned once. The
    same rights and role rules as `create_user`."""
    tenant = await _tenant_for_new_member(
        session, actor, data.tenant, doing="creating a service account"
    )
    tenant_id = tenant.id if tenant is not None else None
    roles = sorted(set(data.roles))
    for role in roles:
        _check_grantable(actor, role, tenant_id)
    client_secret = _new_client_secret()
    user = User(
        id=new_id("usr"),
        kind="service",
        email=None,
        name=data.name,
        tenant_id=tenant_id,
        status="active",
        client_id=CLIENT_ID_PREFIX + secrets.token_hex(10),
        client_secret_hash=await asyncio.to_thread(hash_password, client_secret),
    )
    await _insert_member(session, actor, user, roles, kind="service_account")
    slug = tenant.slug if tenant is not None else None
    return _build(CreatedServiceAccount, user, slug, roles, user=user, client_secret=client_secret)


async def rotate_client_secret(
    session: AsyncSession, actor: Principal, user_id: str
) -> RotatedSecret:
    """Replace a service account's client secret; the old one stops working at once."""
    user = await managed_user(session, actor, user_id)
    if user.kind != "service" or user.client_id is None:
        raise NotFound(f"service account {user_id} does not exist; it is a human user")
    before = audit.snapshot_of(user)
    client_secret = _new_client_secret()
    user.client_secret_hash = await asyncio.to_thread(hash_password, client_secret)
    await session.flush()
    await audit.record(
        session,
        actor,
        action="service_account.rotate_secret",
        target_type="service_account",
        target_id=user.id,
        tenant_id=user.tenant_id,
        before=before,
        after=audit.snapshot_of(user),
    )
    return RotatedSecret(client_id=user.client_id, client_secret=client_secret)
