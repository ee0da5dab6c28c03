"""`fourfold token issue`: mint a bearer token with the secret and issuer from settings.

With no `FOURFOLD_AUTH_SECRET` set and a `make dev` stack running on the settings' state
dir, the token is signed with that stack's secret (which it keeps in the state dir), so it
works against the running dev services.
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta

from fourfold.auth.principal import ROLES
from fourfold.auth.tokens import issue_token
from fourfold.clock import SystemClock
from fourfold.settings import DEV_AUTH_SECRET, FourfoldSettings


def main_issue_token(argv: list[str] | None = None) -> int:
    """Print a signed token on stdout so operators can hand credentials to callers."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help or a usage error: keep the int-returning contract
        return exc.code if isinstance(exc.code, int) else 2
    if args.role == "partner" and not args.partner_id:
        return _usage_error(parser, "--partner-id is required for --role partner")
    if args.role != "partner" and args.partner_id:
        return _usage_error(parser, "--partner-id is only allowed with --role partner")
    if args.ttl_days is not None and args.ttl_days <= 0:
        return _usage_error(parser, "--ttl-days must be positive")

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
    if args.ttl_days is None:
        print("note: this token never expires; revoke it by rotating the secret", file=sys.stderr)
    try:
        token = issue_token(
            secret=secret,
            issuer=settings.auth_issuer,
            role=args.role,
            subject=args.subject,
            partner_id=args.partner_id,
            ttl=timedelta(days=args.ttl_days) if args.ttl_days is not None else None,
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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fourfold token issue",
        description=(
            "Issue a Fourfold bearer token signed with FOURFOLD_AUTH_SECRET (unset: with the "
            "secret of the `make dev` stack running on FOURFOLD_STATE_DIR)."
        ),
    )
    parser.add_argument("--role", required=True, choices=ROLES)
    parser.add_argument("--subject", required=True, help="Free-text name of who holds the token.")
    parser.add_argument("--partner-id", help="The partner the token is scoped to (partner role).")
    parser.add_argument(
        "--ttl-days", type=float, help="Lifetime in days; omitted, the token never expires."
    )
    return parser


def _usage_error(parser: argparse.ArgumentParser, message: str) -> int:
    parser.print_usage(sys.stderr)
    print(f"{parser.prog}: error: {message}", file=sys.stderr)
    return 2
