"""Bearer-token authentication and partner scoping shared by every Fourfold service.

See docs/auth.md for why tokens are signed JWTs and how roles and scoping work.
"""

from fourfold.auth.dependencies import authenticated_principal, require_roles
from fourfold.auth.principal import ROLES, Principal, Role
from fourfold.auth.scoping import partner_filter, partner_scope
from fourfold.auth.tokens import issue_token, verify_token

__all__ = [
    "ROLES",
    "Principal",
    "Role",
    "authenticated_principal",
    "issue_token",
    "partner_filter",
    "partner_scope",
    "require_roles",
    "verify_token",
]
