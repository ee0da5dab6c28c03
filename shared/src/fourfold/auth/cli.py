"""`fourfold token issue`: mint a bearer token with the secret and issuer from settings.

With no `FOURFOLD_AUTH_SECRET` set and a `make dev` stack running on the settings' state
dir, the token is signed with that stack's secret (which it keeps in the state dir), so it
works against the running dev services.
"""

from __future__ import annotations

import sys
from datetime import timedelta

from fourfold.auth.principal import Role
from fourfold.auth.tokens import issue_token
from fourfold.clock import SystemClock
from fourfold.settings import DEV_AUTH_SECRET, FourfoldSettings


def issue(*, role: Role, subject: str, partner_id: str | None, ttl_days: float | None) -> int:
    """Print a signed token on stdout so operators can hand credentials to callers.

    The options are valid already (`fourfold token issue` checks them); 1 when the token
    cannot be issued."""
    settings = FourfoldSettings()
    secret = settings.auth_secret.get_secret_value()
    dev_secret = None if "auth_secret" in settings.model_fields_set else _dev_stack_secret(settings)
    if dev_secret is not None:
        secret = dev_secret
        print(
            f"note: signed with the secret of the dev stack running on {settings.state_dir}/",
            file=sys.stderr,
        )
    elif secret == DEV_AUTH_SECRET:
        print(
            "warning: FOURFOLD_AUTH_SECRET is unset and no dev stack runs; signing with the "
            "dev-only default",
            file=sys.stderr,
        )
    if ttl_days is None:
        print("note: this token never expires; revoke it by rotating the secret", file=sys.stderr)
    try:
        token = issue_token(
            secret=secret,
            issuer=settings.auth_issuer,
            role=role,
            subject=subject,
            partner_id=partner_id,
            ttl=timedelta(days=ttl_days) if ttl_days is not None else None,
            now=SystemClock().now(),
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(token)
    return 0


def _dev_stack_secret(settings: FourfoldSettings) -> str | None:
    from fourfold.dev.state import running_stack_secret

    return running_stack_secret(settings.state_dir)
