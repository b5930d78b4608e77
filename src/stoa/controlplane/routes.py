"""Every domain's router, in the order they appear in the OpenAPI document."""

from __future__ import annotations

from fastapi import APIRouter

from stoa.controlplane.api_key.endpoints import router as api_key_router
from stoa.controlplane.application.endpoints import router as application_router
from stoa.controlplane.audit.endpoints import router as audit_router
from stoa.controlplane.catalog.endpoints import router as catalog_router
from stoa.controlplane.gateway_fleet.endpoints import router as gateway_fleet_router
from stoa.controlplane.plan.endpoints import router as plan_router
from stoa.controlplane.policy.endpoints import router as policy_router
from stoa.controlplane.snapshot.endpoints import router as snapshot_router
from stoa.controlplane.subscription.endpoints import router as subscription_router
from stoa.controlplane.tenant.endpoints import router as tenant_router
from stoa.controlplane.usage.endpoints import router as usage_router
from stoa.controlplane.user.endpoints import router as user_router

ROUTERS: list[APIRouter] = [
    tenant_router,
    user_router,
    catalog_router,
    plan_router,
    policy_router,
    application_router,
    api_key_router,
    subscription_router,
    audit_router,
    snapshot_router,
    usage_router,
    gateway_fleet_router,
]
