"""Database tables, one module per table. Importing this package registers them all."""

from stoa.controlplane.models.api import Api
from stoa.controlplane.models.api_key import ApiKey
from stoa.controlplane.models.application import Application
from stoa.controlplane.models.audit_chain_head import AuditChainHead
from stoa.controlplane.models.audit_entry import AuditEntry
from stoa.controlplane.models.authorization_code import AuthorizationCode
from stoa.controlplane.models.base import Base
from stoa.controlplane.models.gateway import Gateway
from stoa.controlplane.models.gateway_token import GatewayToken
from stoa.controlplane.models.oauth_client import OAuthClient
from stoa.controlplane.models.plan import Plan
from stoa.controlplane.models.policy import Policy
from stoa.controlplane.models.refresh_token import RefreshToken
from stoa.controlplane.models.revoked_access_token import RevokedAccessToken
from stoa.controlplane.models.role_binding import RoleBinding
from stoa.controlplane.models.signing_key import SigningKey
from stoa.controlplane.models.subscription import Subscription
from stoa.controlplane.models.tenant import Tenant
from stoa.controlplane.models.tool import Tool
from stoa.controlplane.models.usage_batch import UsageBatch
from stoa.controlplane.models.usage_event import UsageEvent
from stoa.controlplane.models.usage_rollup import UsageRollup
from stoa.controlplane.models.user import User
from stoa.controlplane.models.user_totp import UserTotp

__all__ = [
    "Api",
    "ApiKey",
    "Application",
    "AuditChainHead",
    "AuditEntry",
    "AuthorizationCode",
    "Base",
    "Gateway",
    "GatewayToken",
    "OAuthClient",
    "Plan",
    "Policy",
    "RefreshToken",
    "RevokedAccessToken",
    "RoleBinding",
    "SigningKey",
    "Subscription",
    "Tenant",
    "Tool",
    "UsageBatch",
    "UsageEvent",
    "UsageRollup",
    "User",
    "UserTotp",
]
