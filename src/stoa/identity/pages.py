"""The server-rendered pages: sign-in, second factor, consent, TOTP enrolment, errors.

Plain HTML and one stylesheet; no script. Every value is escaped. Accessibility: a
language, one `h1` per page, labels bound to inputs, `autocomplete` hints, errors in a
`role="alert"` region referenced by `aria-describedby`, and a visible focus ring.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from stoa.controlplane.models import Application

STYLESHEET = "/oauth/assets/identity.css"

SCOPE_LABELS = {
    "openid": "Know who you are (your user id)",
    "profile": "See your name",
    "email": "See your email address",
    "offline_access": "Stay signed in (refresh tokens)",
    "stoa:read": "Read what you can read in STOA",
    "stoa:write": "Change what you can change in STOA",
    "stoa:admin": "Administer your tenant in STOA",
}


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)} · STOA</title>\n"
        f'<link rel="stylesheet" href="{STYLESHEET}">\n</head>\n'
        f"<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )


def _error(error: str | None) -> str:
    if not error:
        return ""
    return f'<p class="error" id="form-error" role="alert">{escape(error)}</p>\n'


def _described(error: str | None) -> str:
    return ' aria-describedby="form-error" aria-invalid="true"' if error else ""


def _hidden(**fields: str) -> str:
    return "".join(
        f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">\n'
        for name, value in fields.items()
    )


def login_page(
    *,
    client_name: str | None,
    action: str,
    request: str,
    csrf: str,
    email: str = "",
    error: str | None = None,
) -> str:
    purpose = (
        f"<p><strong>{escape(client_name)}</strong> wants to access STOA for you.</p>\n"
        if client_name
        else "<p>Sign in to manage your account.</p>\n"
    )
    body = (
        "<h1>Sign in to STOA</h1>\n"
        f"{purpose}"
        f"{_error(error)}"
        f'<form method="post" action="{escape(action)}">\n'
        f"{_hidden(request=request, csrf=csrf)}"
        '<label for="email">Email</label>\n'
        f'<input id="email" name="email" type="email" autocomplete="username" required '
        f'value="{escape(email)}"{_described(error)}>\n'
        '<label for="password">Password</label>\n'
        '<input id="password" name="password" type="password" '
        f'autocomplete="current-password" required{_described(error)}>\n'
        '<button type="submit">Sign in</button>\n</form>'
    )
    return _page("Sign in", body)


def second_factor_page(
    *, action: str, request: str, csrf: str, pending: str, error: str | None = None
) -> str:
    body = (
        "<h1>Enter your one-time code</h1>\n"
        "<p>Open your authenticator app and enter the 6-digit code for STOA, "
        "or one of your recovery codes.</p>\n"
        f"{_error(error)}"
        f'<form method="post" action="{escape(action)}">\n'
        f"{_hidden(request=request, csrf=csrf, pending=pending)}"
        '<label for="code">Code</label>\n'
        '<input id="code" name="code" type="text" inputmode="numeric" '
        f'autocomplete="one-time-code" required{_described(error)}>\n'
        '<button type="submit">Continue</button>\n</form>'
    )
    return _page("One-time code", body)


def consent_page(
    *,
    action: str,
    request: str,
    csrf: str,
    client_name: str,
    client_uri: str | None,
    client_id: str,
    user_label: str,
    scopes: Sequence[str],
    resource: str | None,
    applications: Sequence[Application],
    error: str | None = None,
) -> str:
    who = escape(client_name)
    origin = (
        f' (<a href="{escape(client_uri)}" rel="noreferrer">{escape(client_uri)}</a>)'
        if client_uri
        else ""
    )
    items = "".join(f"<li>{escape(SCOPE_LABELS.get(s, s))}</li>\n" for s in scopes)
    target = f"<p>The access is for <code>{escape(resource)}</code> only.</p>\n" if resource else ""
    if applications:
        choices = "".join(
            f'<label><input type="radio" name="application" value="{escape(app.id)}"'
            f"{' checked' if index == 0 else ''} required> {escape(app.name)}</label>\n"
            for index, app in enumerate(applications)
        )
        picker = (
            "<fieldset>\n<legend>Act for which of your applications?</legend>\n"
            f"{choices}"
            '<p class="hint">The agent uses that application\'s subscriptions and plans.</p>\n'
            "</fieldset>\n"
        )
    else:
        picker = (
            '<p class="hint">You have no applications yet, so the agent acts for you '
            "without one (no subscriptions apply).</p>\n"
        )
    body = (
        f"<h1>Allow {who}?</h1>\n"
        f"<p>Signed in as <strong>{escape(user_label)}</strong>.</p>\n"
        f"<p><strong>{who}</strong>{origin} (client id <code>{escape(client_id)}</code>) "
        "asks to:</p>\n"
        f'<ul class="scopes">\n{items}</ul>\n{target}'
        f"{_error(error)}"
        f'<form method="post" action="{escape(action)}">\n'
        f"{_hidden(request=request, csrf=csrf)}{picker}"
        '<button type="submit" name="decision" value="allow">Allow</button>\n'
        '<button type="submit" name="decision" value="deny" class="secondary">Deny</button>\n'
        "</form>"
    )
    return _page(f"Allow {client_name}?", body)


def error_page(message: str) -> str:
    body = (
        "<h1>This sign-in request cannot continue</h1>\n"
        f'<p class="error" role="alert">{escape(message)}</p>\n'
        "<p>Go back to the application and start again.</p>"
    )
    return _page("Sign-in problem", body)


def enrolment_page(
    *, action: str, csrf: str, qr_svg: str, secret: str, error: str | None = None
) -> str:
    body = (
        "<h1>Set up a one-time code</h1>\n"
        "<p>Scan this QR code with your authenticator app, then enter the code it shows.</p>\n"
        f"{qr_svg}\n"
        '<p>Or type this key into the app: <code class="secret">'
        f"{escape(secret)}</code></p>\n"
        f"{_error(error)}"
        f'<form method="post" action="{escape(action)}">\n'
        f"{_hidden(csrf=csrf)}"
        '<label for="code">Code from the app</label>\n'
        '<input id="code" name="code" type="text" inputmode="numeric" '
        f'autocomplete="one-time-code" required{_described(error)}>\n'
        '<button type="submit">Turn on</button>\n</form>'
    )
    return _page("Set up a one-time code", body)


def recovery_codes_page(codes: Sequence[str]) -> str:
    items = "".join(f"<li>{escape(code)}</li>\n" for code in codes)
    body = (
        "<h1>One-time codes are on</h1>\n"
        "<p>Keep these recovery codes somewhere safe. Each works once, when you cannot use "
        "your app. <strong>They are shown only now.</strong></p>\n"
        f'<ol class="codes">\n{items}</ol>'
    )
    return _page("Recovery codes", body)


def already_enrolled_page() -> str:
    body = (
        "<h1>One-time codes are on</h1>\n"
        "<p>Your account already asks for a one-time code at sign-in.</p>"
    )
    return _page("One-time codes", body)
