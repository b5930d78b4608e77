"""Every endpoint of the embedded authorization server, for the control plane to include
(when `STOA_OIDC_ISSUER` is unset) or for `stoa identity` to serve alone.

The endpoints read `app.state.identity` (`runtime.IdentityRuntime`), which the hosting
app's lifespan builds with `runtime.build_identity`.
"""

from __future__ import annotations

from fastapi import APIRouter

from stoa.identity.endpoints import browser, metadata, registration, tokens

router = APIRouter()
router.include_router(metadata.router)
router.include_router(browser.router)
router.include_router(tokens.router)
router.include_router(registration.router)
