"""Request and response bodies for users, role bindings and service accounts."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from stoa.kit.naming import SLUG_PATTERN

Role = Literal["cpi-admin", "tenant-admin", "devops", "viewer"]
UserKind = Literal["human", "service"]
UserStatus = Literal["active", "disabled"]
Slug = Annotated[str, Field(pattern=SLUG_PATTERN, min_length=2, max_length=63)]

# Deliberately permissive (one @, a dot in the domain, no spaces): delivery is the real
# check, and a stricter pattern only rejects addresses that work.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


def normalize_email(value: str) -> str:
    """`value` trimmed and in lower case, or ValueError saying what a valid address is."""
    email = value.strip().lower()
    if not _EMAIL.fullmatch(email):
        raise ValueError("must be an email address such as ada@example.com")
    return email


Email = Annotated[str, Field(min_length=3, max_length=320), AfterValidator(normalize_email)]
Password = Annotated[
    str,
    Field(min_length=12, max_length=1024, description="At least 12 characters"),
]
Name = Annotated[str, Field(min_length=1, max_length=200)]


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email = Field(description="Login; stored in lower case and unique")
    name: Name
    tenant: Slug | None = Field(
        default=None,
        description="Slug of the user's tenant. cpi-admin may omit it to create a platform "
        "user; anyone else who omits it creates the user in their own tenant.",
    )
    roles: list[Role] = Field(
        default_factory=list,
        max_length=4,
        description="None makes a developer; `cpi-admin` can be granted by cpi-admin only",
    )
    password: Password | None = Field(
        default=None,
        description="Omit it to have one generated and returned once as `initial_password`",
    )


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    status: UserStatus | None = Field(
        default=None, description="`disabled` refuses the user's tokens from the next request"
    )
    password: Password | None = Field(default=None, description="Human users only")


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    kind: UserKind
    email: str | None = Field(description="None for service accounts")
    name: str
    tenant: str | None = Field(description="Slug of the user's tenant; None for platform users")
    tenant_id: str | None
    status: UserStatus
    client_id: str | None = Field(description="Service accounts only")
    roles: list[str] = Field(description="Sorted role names")
    created_at: datetime
    updated_at: datetime


class UserCreated(UserOut):
    initial_password: str | None = Field(
        description="The generated password, shown this once; None when you chose one"
    )


class ServiceAccountCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    tenant: Slug | None = Field(
        default=None,
        description="Slug of the account's tenant; the same rules as for creating users",
    )
    roles: list[Role] = Field(default_factory=list, max_length=4)


class ServiceAccountCreated(UserOut):
    client_secret: str = Field(description="Shown this once; store it now")


class ClientSecret(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    client_id: str
    client_secret: str = Field(description="Shown this once; the previous secret stops working")


class RoleGrant(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role


class RoleBindingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    user_id: str
    role: Role
    tenant_id: str | None = Field(description="None for cpi-admin, which holds everywhere")
    created_at: datetime


class RoleBindingList(BaseModel):
    """A user's role bindings: at most one per role, so never paginated."""

    items: list[RoleBindingOut]
