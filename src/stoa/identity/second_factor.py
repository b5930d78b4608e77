"""The TOTP second factor of a user: enrolment, and the check at login.

The secret is encrypted with the master key (`SecretBox`, the user id as context);
recovery codes are stored as HMAC digests and each works once. A factor counts only once
confirmed with a first valid code.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from stoa.controlplane.audit import service as audit
from stoa.controlplane.models import User, UserTotp
from stoa.controlplane.models.base import utcnow
from stoa.controlplane.principal import Principal
from stoa.identity import totp
from stoa.identity.recovery_codes import consume_recovery_code, generate_recovery_codes
from stoa.kit.crypto import SecretBox


async def confirmed_factor(session: AsyncSession, user: User) -> UserTotp | None:
    row = await session.get(UserTotp, user.id)
    return row if row is not None and row.confirmed_at is not None else None


def check_code(box: SecretBox, hash_secret: bytes, factor: UserTotp, code: str) -> bool:
    """Whether `code` is the current TOTP code or an unused recovery code; records its use
    on `factor` (a TOTP step is not accepted twice, a recovery code is spent)."""
    secret = box.decrypt(factor.secret_encrypted, context=factor.user_id)
    step = totp.verify_code(secret, code, now=time.time(), last_used_step=factor.last_step)
    if step is not None:
        factor.last_step = step
        return True
    remaining = consume_recovery_code(hash_secret, code, factor.recovery_code_digests)
    if remaining is not None:
        factor.recovery_code_digests = remaining
        return True
    return False


@dataclass(frozen=True, slots=True)
class Enrolment:
    secret: str
    uri: str
    qr_svg: str


async def start_enrolment(
    session: AsyncSession, box: SecretBox, user: User, *, issuer_name: str
) -> Enrolment:
    """A new unconfirmed secret for `user` (replacing any unconfirmed one). A confirmed
    factor is left alone: `Enrolment` for it is refused by the caller."""
    secret = totp.generate_secret()
    row = await session.get(UserTotp, user.id)
    encrypted = box.encrypt(secret, context=user.id)
    if row is None:
        session.add(UserTotp(user_id=user.id, secret_encrypted=encrypted, recovery_code_digests=[]))
    else:
        row.secret_encrypted = encrypted
        row.confirmed_at = None
        row.last_step = None
        row.recovery_code_digests = []
    await session.flush()
    uri = totp.provisioning_uri(secret, account=user.email or user.id, issuer=issuer_name)
    return Enrolment(secret, uri, totp.qr_code_svg(uri))


def qr_for(secret: str, user: User, *, issuer_name: str) -> str:
    """The enrolment QR code (inline SVG) of `secret` for `user`."""
    uri = totp.provisioning_uri(secret, account=user.email or user.id, issuer=issuer_name)
    return totp.qr_code_svg(uri)


async def pending_enrolment(session: AsyncSession, box: SecretBox, user: User) -> str | None:
    """The secret of `user`'s unconfirmed enrolment, if any."""
    row = await session.get(UserTotp, user.id)
    if row is None or row.confirmed_at is not None:
        return None
    return box.decrypt(row.secret_encrypted, context=user.id)


async def confirm_enrolment(
    session: AsyncSession,
    box: SecretBox,
    hash_secret: bytes,
    user: User,
    code: str,
    *,
    actor: Principal,
) -> list[str] | None:
    """Turn the factor on if `code` is valid for the pending secret (audited as `actor`);
    returns the recovery codes (to show once), or None if the code is wrong or nothing is
    pending."""
    row = await session.get(UserTotp, user.id)
    if row is None or row.confirmed_at is not None:
        return None
    secret = box.decrypt(row.secret_encrypted, context=user.id)
    step = totp.verify_code(secret, code, now=time.time())
    if step is None:
        return None
    issued = generate_recovery_codes(hash_secret)
    row.confirmed_at = utcnow()
    row.last_step = step
    row.recovery_code_digests = list(issued.digests)
    await session.flush()
    await audit.record(
        session,
        actor,
        action="user.totp_enable",
        target_type="user",
        target_id=user.id,
        tenant_id=user.tenant_id,
        after={"totp": "on", "recovery_codes": len(issued.codes)},
    )
    return list(issued.codes)
