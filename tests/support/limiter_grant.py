"""A grant for one plan and subscription, for exercising rate limiters directly."""

from __future__ import annotations

from stoa.contract.snapshot import PlanEntry
from stoa.gateway.snapshot.compiled import CompiledApi, Grant
from stoa.gateway.snapshot.policies import EMPTY_POLICIES
from stoa.gateway.telemetry import metrics


def grant_for(plan: PlanEntry, subscription: str = "sub_1") -> Grant:
    api = CompiledApi(
        id="api_1",
        tenant_id="ten_1",
        tenant="t",
        name="a",
        kind="rest",
        upstream_url="",
        upstream=None,
        upstream_auth=None,
        tools={},
        policies=EMPTY_POLICIES,
        entry=None,  # type: ignore[arg-type]
        proxy_stats=metrics.stats_for("proxy", "t", "a"),
    )
    return Grant(
        subscription_id=subscription,
        application_id="app_1",
        api=api,
        plan=plan,
        tools=(),
        policies=EMPTY_POLICIES,
    )
