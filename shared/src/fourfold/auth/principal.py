"""Who is calling: the role and, for partners, the one partner whose data they may see."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, get_args

Role = Literal["ingest", "partner", "admin"]
"""`ingest`: the vendor's event writer; `partner`: one partner's user; `admin`: operators."""

ROLES: Final[tuple[Role, ...]] = get_args(Role)


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller; built only from a verified token, so routes can trust it."""

    subject: str
    role: Role
    partner_id: str | None = None

    def __post_init__(self) -> None:
        if not self.subject:
            raise ValueError("subject must not be empty")
        if self.role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, not {self.role!r}")
        if self.role == "partner" and not self.partner_id:
            raise ValueError("a partner principal needs a partner_id")
        if self.role != "partner" and self.partner_id is not None:
            article = "an" if self.role[0] in "aeiou" else "a"
            raise ValueError(f"{article} {self.role} principal must not carry a partner_id")

    @property
    def is_admin(self) -> bool:
        """True for operators, who see every partner."""
        return self.role == "admin"

    @property
    def is_partner(self) -> bool:
        """True for a partner's user, whose reads are limited to `partner_id`."""
        return self.role == "partner"

    def can_see_partner(self, partner_id: str) -> bool:
        """Whether this caller may read `partner_id`'s data: admins all, partners their own."""
        return self.is_admin or (self.is_partner and self.partner_id == partner_id)
