"""HTTP routes for users, their roles, and service accounts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from stoa.controlplane.dependencies import CurrentPrincipal, Pagination, Session
from stoa.controlplane.pagination import Page
from stoa.controlplane.user import service
from stoa.controlplane.user.schemas import (
    ClientSecret,
    Role,
    RoleBindingList,
    RoleBindingOut,
    RoleGrant,
    ServiceAccountCreate,
    ServiceAccountCreated,
    UserCreate,
    UserCreated,
    UserKind,
    UserOut,
    UserUpdate,
)

router = APIRouter(tags=["users"])

UserId = Annotated[str, Path(max_length=40, description="The user's id (`usr_...`)")]


@router.get("/v1/users/me", response_model=UserOut)
async def get_me(session: Session, principal: CurrentPrincipal) -> UserOut:
    """You: your user, tenant and the roles your token carries."""
    return UserOut.model_validate(await service.me(session, principal))


@router.get("/v1/users", response_model=Page[UserOut])
async def list_users(
    session: Session,
    principal: CurrentPrincipal,
    page: Pagination,
    tenant: Annotated[str | None, Query(max_length=63, description="Tenant slug")] = None,
    email: Annotated[str | None, Query(max_length=320, description="Exact email")] = None,
    kind: Annotated[UserKind | None, Query(description="`human` or `service`")] = None,
) -> Page[UserOut]:
    """cpi-admin: every user. Anyone else: the users of their tenant (viewer, devops,
    tenant-admin). Oldest first."""
    items, cursor = await service.list_users(
        session, principal, page, tenant=tenant, email=email, kind=kind
    )
    return Page(items=[UserOut.model_validate(u) for u in items], next_cursor=cursor)


@router.post("/v1/users", status_code=status.HTTP_201_CREATED, response_model=UserCreated)
async def create_user(
    body: UserCreate, session: Session, principal: CurrentPrincipal
) -> UserCreated:
    """Create a user (tenant-admin in their tenant, cpi-admin anywhere). A generated
    password is returned once, in `initial_password`."""
    return UserCreated.model_validate(await service.create_user(session, principal, body))


@router.get("/v1/users/{user_id}", response_model=UserOut)
async def get_user(user_id: UserId, session: Session, principal: CurrentPrincipal) -> UserOut:
    return UserOut.model_validate(await service.get_user(session, principal, user_id))


@router.patch("/v1/users/{user_id}", response_model=UserOut)
async def update_user(
    user_id: UserId, body: UserUpdate, session: Session, principal: CurrentPrincipal
) -> UserOut:
    """Rename, enable/disable or set a password. Everyone may change their own name and
    password; the rest needs tenant-admin (or cpi-admin)."""
    return UserOut.model_validate(await service.update_user(session, principal, user_id, body))


@router.delete("/v1/users/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_user(user_id: UserId, session: Session, principal: CurrentPrincipal) -> None:
    """Delete a user with their roles and the applications they own. Not yourself."""
    await service.delete_user(session, principal, user_id)


@router.get("/v1/users/{user_id}/roles", response_model=RoleBindingList)
async def list_roles(
    user_id: UserId, session: Session, principal: CurrentPrincipal
) -> RoleBindingList:
    bindings = await service.list_role_bindings(session, principal, user_id)
    return RoleBindingList(items=[RoleBindingOut.model_validate(b) for b in bindings])


@router.post(
    "/v1/users/{user_id}/roles", status_code=status.HTTP_201_CREATED, response_model=RoleBindingOut
)
async def bind_role(
    user_id: UserId, body: RoleGrant, session: Session, principal: CurrentPrincipal
) -> RoleBindingOut:
    """Grant a role (tenant-admin in the user's tenant; cpi-admin for cpi-admin)."""
    binding = await service.bind_role(session, principal, user_id, body.role)
    return RoleBindingOut.model_validate(binding)


@router.delete("/v1/users/{user_id}/roles/{role}", status_code=status.HTTP_204_NO_CONTENT)
async def unbind_role(
    user_id: UserId, role: Role, session: Session, principal: CurrentPrincipal
) -> None:
    await service.unbind_role(session, principal, user_id, role)


@router.post(
    "/v1/service-accounts",
    status_code=status.HTTP_201_CREATED,
    response_model=ServiceAccountCreated,
    tags=["service accounts"],
)
async def create_service_account(
    body: ServiceAccountCreate, session: Session, principal: CurrentPrincipal
) -> ServiceAccountCreated:
    """Create a service account; its `client_secret` is returned this once. It logs in
    with the client credentials grant and is listed among users with kind `service`."""
    created = await service.create_service_account(session, principal, body)
    return ServiceAccountCreated.model_validate(created)


@router.post(
    "/v1/service-accounts/{user_id}/secret", response_model=ClientSecret, tags=["service accounts"]
)
async def rotate_client_secret(
    user_id: UserId, session: Session, principal: CurrentPrincipal
) -> ClientSecret:
    """A new client secret, returned this once; the previous one stops working."""
    rotated = await service.rotate_client_secret(session, principal, user_id)
    return ClientSecret.model_validate(rotated)
