"""Partner scoping: a partner's token sees its own partner's data and nothing else.

Another partner's resource answers 404, exactly like a resource that does not exist, so a
partner cannot learn which ids exist elsewhere. Services must therefore raise the same
`NotFound` detail for a truly missing resource as `partner_scope` does for a hidden one.
"""

from __future__ import annotations

from fourfold.auth.principal import Principal
from fourfold.errors import Forbidden, NotFound


def partner_scope(principal: Principal, partner_id: str, *, resource: str = "resource") -> None:
    """Refuse another partner's data with a 404 so its existence does not leak; admins pass."""
    if principal.can_see_partner(partner_id):
        return
    if principal.is_partner:
        raise NotFound(f"{resource} not found")
    raise Forbidden(f"role {principal.role!r} may not read partner data")


def partner_filter(principal: Principal) -> str | None:
    """The partner_id a list query must filter on (None: every partner, for admins only)."""
    if principal.is_admin:
        return None
    if principal.is_partner:
        return principal.partner_id
    raise Forbidden(f"role {principal.role!r} may not read partner data")
