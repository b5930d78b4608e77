"""What the embedded authorization server offers, and its fixed limits."""

from __future__ import annotations

from dataclasses import dataclass

SUPPORTED_SCOPES: tuple[str, ...] = (
    "openid",
    "profile",
    "email",
    "offline_access",
    "stoa:read",
    "stoa:write",
    "stoa:admin",
)
# Roles whose holders may be granted `stoa:admin`; others get the rest of what they ask.
ADMIN_SCOPE_ROLES = frozenset({"cpi-admin", "tenant-admin"})
ADMIN_SCOPE = "stoa:admin"
# What a service account gets from client_credentials when it names no scope.
DEFAULT_SERVICE_SCOPE = "stoa:read stoa:write"

AUTHORIZATION_CODE = "authorization_code"
REFRESH_TOKEN = "refresh_token"
CLIENT_CREDENTIALS = "client_credentials"


@dataclass(frozen=True, slots=True)
class IdentityConfig:
    """Lifetimes (seconds) and abuse limits. The defaults are the product's; tests may
    shorten lifetimes."""

    issuer: str
    access_token_seconds: int = 900
    id_token_seconds: int = 900
    refresh_token_seconds: int = 30 * 24 * 3600
    authorization_code_seconds: int = 60
    login_session_seconds: int = 8 * 3600
    pending_second_factor_seconds: int = 300
    registration_body_bytes: int = 16 * 1024
    registrations_per_ip_per_hour: int = 20
    max_redirect_uris: int = 10
    client_metadata_bytes: int = 5 * 1024
    client_metadata_min_cache_seconds: int = 60
    client_metadata_max_cache_seconds: int = 24 * 3600

    @property
    def secure_cookies(self) -> bool:
        return self.issuer.startswith("https://")
