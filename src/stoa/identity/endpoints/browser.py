"""The pages a person sees: `/oauth/authorize` (sign-in, one-time code, consent) and
`/oauth/account/totp` (turn on the TOTP second factor).

The authorization request travels through the forms as its original query string and is
validated again on every step, so nothing about it is trusted from the form. Each POST
needs the CSRF token that matches the browser's CSRF cookie. A successful sign-in sets a
signed login-session cookie and shows the consent page at once (so `prompt=login` cannot
loop); consent issues the code and redirects to the client.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from urllib.parse import parse_qs

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from stoa.controlplane.models import User
from stoa.controlplane.principal import Principal
from stoa.controlplane.user import service as user_service
from stoa.identity import pages, second_factor
from stoa.identity.authorization import (
    AuthorizationRequest,
    BackToClient,
    ShownToUser,
    applications_of,
    grant_code,
    parse_request,
)
from stoa.identity.browser_session import (
    COOKIE_PATH,
    CSRF_COOKIE,
    LOGIN_COOKIE,
    new_csrf_nonce,
)
from stoa.identity.endpoints.forms import BodyTooLarge, client_address, limited_body
from stoa.identity.issuance import granted_scopes, subject_of
from stoa.identity.runtime import IdentityRuntime, identity_of
from stoa.kit.passwords import verify_password

router = APIRouter(tags=["identity"], include_in_schema=False)

AUTHORIZE = "/oauth/authorize"
LOGIN_ACTION = "/oauth/authorize/login"
SECOND_FACTOR_ACTION = "/oauth/authorize/second-factor"
CONSENT_ACTION = "/oauth/authorize/consent"
ENROL = "/oauth/account/totp"
_MAX_PAGE_FORM = 32 * 1024
_SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


class _Page:
    """Builds an HTML response with the CSRF cookie in place."""

    def __init__(self, runtime: IdentityRuntime, request: Request) -> None:
        self.runtime = runtime
        existing = request.cookies.get(CSRF_COOKIE)
        self.nonce = existing or new_csrf_nonce()
        self._new_nonce = existing is None
        self.csrf = runtime.signer.csrf_token(self.nonce)
        self.login_cookie: str | None = None

    def respond(
        self, html: str, status: int = 200, headers: Mapping[str, str] | None = None
    ) -> HTMLResponse:
        response = HTMLResponse(
            html, status_code=status, headers={**_SECURITY_HEADERS, **(headers or {})}
        )
        secure = self.runtime.config.secure_cookies
        if self._new_nonce:
            response.set_cookie(
                CSRF_COOKIE,
                self.nonce,
                path=COOKIE_PATH,
                httponly=True,
                samesite="lax",
                secure=secure,
            )
        if self.login_cookie is not None:
            response.set_cookie(
                LOGIN_COOKIE,
                self.login_cookie,
                max_age=self.runtime.config.login_session_seconds,
                path=COOKIE_PATH,
                httponly=True,
                samesite="lax",
                secure=secure,
            )
        return response

    def redirect(self, location: str) -> Response:
        return self.respond("", 303, {"Location": location})


def _error(runtime: IdentityRuntime, request: Request, message: str, status: int = 400) -> Response:
    return _Page(runtime, request).respond(pages.error_page(message), status)


def _redirect(location: str) -> Response:
    return RedirectResponse(location, status_code=303, headers={"Cache-Control": "no-store"})


async def _page_form(request: Request) -> dict[str, str] | None:
    """A browser form (first value of each field), or None if it is unreadable."""
    try:
        body = await limited_body(request, _MAX_PAGE_FORM)
        parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True)
    except (BodyTooLarge, UnicodeDecodeError):
        return None
    form = {name: values[0] for name, values in parsed.items()}
    # NUL cannot be stored (PostgreSQL text) and has no business in a form.
    if any("\x00" in name or "\x00" in value for name, value in form.items()):
        return None
    return form


def _query(raw: str) -> Mapping[str, Sequence[str]]:
    return parse_qs(raw, keep_blank_values=True)


async def _logged_in_user(
    runtime: IdentityRuntime, session: AsyncSession, request: Request
) -> tuple[User, int] | None:
    login = runtime.signer.login_session(request.cookies.get(LOGIN_COOKIE))
    if login is None:
        return None
    user = await session.get(User, login.user_id)
    if user is None or user.status != "active" or user.kind != "human":
        return None
    return user, login.auth_time


def _login(
    page: _Page,
    areq: AuthorizationRequest | None,
    raw: str,
    *,
    email: str = "",
    error: str | None = None,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    html = pages.login_page(
        client_name=areq.client.name if areq is not None else None,
        action=LOGIN_ACTION,
        request=raw,
        csrf=page.csrf,
        email=email,
        error=error,
    )
    return page.respond(html, status, headers)


async def _consent(
    page: _Page,
    session: AsyncSession,
    areq: AuthorizationRequest,
    raw: str,
    user: User,
    *,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    subject = await subject_of(session, user)
    html = pages.consent_page(
        action=CONSENT_ACTION,
        request=raw,
        csrf=page.csrf,
        client_name=areq.client.name,
        client_uri=areq.client.client_uri,
        client_id=areq.client.client_id,
        user_label=user.email or user.name,
        scopes=granted_scopes(areq.scopes, subject.roles),
        resource=areq.resource,
        applications=await applications_of(session, user),
        error=error,
    )
    return page.respond(html, status)


async def _parsed(
    runtime: IdentityRuntime, session: AsyncSession, raw: str
) -> AuthorizationRequest:
    return await parse_request(
        session, runtime.documents, runtime.config, runtime.settings, _query(raw)
    )


@router.get(AUTHORIZE)
async def authorize(request: Request) -> Response:
    runtime = identity_of(request)
    raw = request.url.query
    page = _Page(runtime, request)
    async with runtime.sessions() as session:
        try:
            areq = await _parsed(runtime, session, raw)
        except ShownToUser as exc:
            return _error(runtime, request, exc.message)
        except BackToClient as exc:
            return RedirectResponse(exc.location(), status_code=302)
        current = await _logged_in_user(runtime, session, request)
        wants_login = areq.prompt is not None and "login" in areq.prompt.split()
        if current is None or wants_login:
            return _login(page, areq, raw, email=areq.login_hint or "")
        return await _consent(page, session, areq, raw, current[0])


async def _checked_form(
    runtime: IdentityRuntime, request: Request
) -> tuple[dict[str, str], _Page] | Response:
    form = await _page_form(request)
    if form is None:
        return _error(runtime, request, "The form could not be read.")
    page = _Page(runtime, request)
    if not runtime.signer.csrf_ok(request.cookies.get(CSRF_COOKIE), form.get("csrf")):
        return _error(
            runtime,
            request,
            "This form has expired or did not come from this site (CSRF check failed). "
            "Start again from the application.",
            403,
        )
    return form, page


async def _sign_in(
    page: _Page, session: AsyncSession, areq: AuthorizationRequest | None, raw: str, user: User
) -> Response:
    """Set the login session; then the consent page, or (signing in to the account pages,
    without an authorization request) a redirect to the enrolment page."""
    await page.runtime.throttle.record_success(account=(user.email or user.id).lower(), ip=None)
    page.login_cookie = page.runtime.signer.login_cookie(
        user.id, lifetime=page.runtime.config.login_session_seconds
    )
    if areq is None:
        return page.redirect(ENROL)
    return await _consent(page, session, areq, raw, user)


async def _optional_request(
    runtime: IdentityRuntime, session: AsyncSession, request: Request, raw: str
) -> AuthorizationRequest | Response | None:
    """The authorization request a sign-in form carries (None for the account pages), or
    the response that ends the flow (an error page, an error redirect)."""
    if not raw:
        return None
    try:
        return await _parsed(runtime, session, raw)
    except ShownToUser as exc:
        return _error(runtime, request, exc.message)
    except BackToClient as exc:
        return _redirect(exc.location())


@router.post(LOGIN_ACTION)
async def login(request: Request) -> Response:
    runtime = identity_of(request)
    checked = await _checked_form(runtime, request)
    if isinstance(checked, Response):
        return checked
    form, page = checked
    raw = form.get("request", "")
    email = form.get("email", "").strip()
    password = form.get("password", "")
    ip = client_address(request)
    account = email.lower()
    # Reads only, and no session is held during the argon2 check: on SQLite every
    # transaction holds the write lock, and a password check takes a good part of a second.
    async with runtime.sessions() as session:
        areq = await _optional_request(runtime, session, request, raw)
        if isinstance(areq, Response):
            return areq
        decision = await runtime.throttle.check(account=account, ip=ip)
        if not decision.allowed:
            return _login(
                page,
                areq,
                raw,
                email=email,
                status=429,
                headers={"Retry-After": str(decision.retry_after)},
                error=f"Too many failed sign-ins. Try again in {decision.retry_after} seconds.",
            )
        user = await user_service.find_login(session, account) if email else None
    human = user if user is not None and user.kind == "human" else None
    stored = human.password_hash if human is not None else None
    valid = await asyncio.to_thread(verify_password, stored, password)
    if human is None or not valid or human.status != "active":
        await runtime.throttle.record_failure(account=account, ip=ip)
        return _login(page, areq, raw, email=email, status=400, error="Wrong email or password.")
    async with runtime.sessions() as session:
        if await second_factor.confirmed_factor(session, human) is not None:
            pending = runtime.signer.sign(
                "second-factor",
                {"sub": human.id},
                lifetime=runtime.config.pending_second_factor_seconds,
            )
            html = pages.second_factor_page(
                action=SECOND_FACTOR_ACTION, request=raw, csrf=page.csrf, pending=pending
            )
            return page.respond(html)
        return await _sign_in(page, session, areq, raw, human)


@router.post(SECOND_FACTOR_ACTION)
async def second_factor_step(request: Request) -> Response:
    runtime = identity_of(request)
    checked = await _checked_form(runtime, request)
    if isinstance(checked, Response):
        return checked
    form, page = checked
    raw = form.get("request", "")
    pending_value = form.get("pending", "")
    pending = runtime.signer.verify("second-factor", pending_value)
    if pending is None:
        return _error(runtime, request, "The sign-in took too long. Start again.", 400)
    ip = client_address(request)
    async with runtime.sessions() as session, session.begin():
        areq = await _optional_request(runtime, session, request, raw)
        if isinstance(areq, Response):
            return areq
        user = await session.get(User, str(pending.get("sub")))
        if user is None or user.status != "active":
            return _error(runtime, request, "This account cannot sign in.", 400)
        account = (user.email or user.id).lower()
        factor = await second_factor.confirmed_factor(session, user)

        def again(
            error: str, status: int, headers: Mapping[str, str] | None = None
        ) -> HTMLResponse:
            html = pages.second_factor_page(
                action=SECOND_FACTOR_ACTION,
                request=raw,
                csrf=page.csrf,
                pending=pending_value,
                error=error,
            )
            return page.respond(html, status, headers)

        decision = await runtime.throttle.check(account=account, ip=ip)
        if not decision.allowed:
            return again(
                f"Too many wrong codes. Try again in {decision.retry_after} seconds.",
                429,
                {"Retry-After": str(decision.retry_after)},
            )
        code = form.get("code", "")
        if factor is None or not second_factor.check_code(
            runtime.box, runtime.recovery_code_secret, factor, code
        ):
            await runtime.throttle.record_failure(account=account, ip=ip)
            return again("That code is not valid. Enter the current code from your app.", 400)
        return await _sign_in(page, session, areq, raw, user)


@router.post(CONSENT_ACTION)
async def consent(request: Request) -> Response:
    runtime = identity_of(request)
    checked = await _checked_form(runtime, request)
    if isinstance(checked, Response):
        return checked
    form, page = checked
    raw = form.get("request", "")
    async with runtime.sessions() as session, session.begin():
        try:
            areq = await _parsed(runtime, session, raw)
        except ShownToUser as exc:
            return _error(runtime, request, exc.message)
        except BackToClient as exc:
            return _redirect(exc.location())
        current = await _logged_in_user(runtime, session, request)
        if current is None:
            return _login(page, areq, raw, error="Your sign-in has expired. Sign in again.")
        user, auth_time = current
        if form.get("decision") != "allow":
            denied = BackToClient(
                areq.redirect_uri,
                "access_denied",
                "the user denied the request",
                areq.state,
                runtime.config.issuer,
            )
            return _redirect(denied.location())
        applications = await applications_of(session, user)
        chosen = form.get("application") or None
        if applications and not any(app.id == chosen for app in applications):
            return await _consent(
                page,
                session,
                areq,
                raw,
                user,
                status=400,
                error="Choose which of your applications the agent acts for.",
            )
        subject = await subject_of(session, user)
        location = await grant_code(
            session,
            runtime.config,
            areq,
            user=user,
            scopes=granted_scopes(areq.scopes, subject.roles),
            application_id=chosen if applications else None,
            auth_time=auth_time,
        )
        return _redirect(location)


@router.get(ENROL)
async def enrolment(request: Request) -> Response:
    """Turn on TOTP: sign in if needed, then a new secret as QR code and text."""
    runtime = identity_of(request)
    page = _Page(runtime, request)
    async with runtime.sessions() as session, session.begin():
        current = await _logged_in_user(runtime, session, request)
        if current is None:
            return _login(page, None, "")
        user = current[0]
        if await second_factor.confirmed_factor(session, user) is not None:
            return page.respond(pages.already_enrolled_page())
        started = await second_factor.start_enrolment(
            session, runtime.box, user, issuer_name="STOA"
        )
        html = pages.enrolment_page(
            action=ENROL, csrf=page.csrf, qr_svg=started.qr_svg, secret=started.secret
        )
        return page.respond(html)


@router.post(ENROL)
async def confirm_enrolment(request: Request) -> Response:
    """Check the first code; on success show the recovery codes, once."""
    runtime = identity_of(request)
    checked = await _checked_form(runtime, request)
    if isinstance(checked, Response):
        return checked
    form, page = checked
    async with runtime.sessions() as session, session.begin():
        current = await _logged_in_user(runtime, session, request)
        if current is None:
            return _login(page, None, "", error="Your sign-in has expired. Sign in again.")
        user = current[0]
        actor = Principal(
            user_id=user.id,
            label=user.email or user.name,
            tenant_id=user.tenant_id,
            tenant_slug=None,
            roles=frozenset(),
            source_ip=client_address(request),
            user_agent=request.headers.get("user-agent"),
        )
        codes = await second_factor.confirm_enrolment(
            session,
            runtime.box,
            runtime.recovery_code_secret,
            user,
            form.get("code", ""),
            actor=actor,
        )
        if codes is not None:
            return page.respond(pages.recovery_codes_page(codes))
        secret = await second_factor.pending_enrolment(session, runtime.box, user)
        if secret is None:
            return page.respond(pages.already_enrolled_page())
        qr = second_factor.qr_for(secret, user, issuer_name="STOA")
        html = pages.enrolment_page(
            action=ENROL,
            csrf=page.csrf,
            qr_svg=qr,
            secret=secret,
            error="That code is not valid. Enter the code your app shows now.",
        )
        return page.respond(html, 400)
