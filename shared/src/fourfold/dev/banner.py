"""What `make dev` prints once everything is up: where things are, tokens, three commands.

Pure text from what the stack knows, so the test can read the commands back out of it
(`commands`) and run them as a user would.
"""

from __future__ import annotations

from dataclasses import dataclass

TRY_IT = "Three commands worth running"
BANNER_END = "The simulated vendor"


@dataclass(frozen=True)
class Banner:
    gateway: str
    services: dict[str, str]
    infrastructure: dict[str, str]
    tokens: dict[str, str]
    """Variable name -> token, printed as `export` lines."""
    partner: str
    seconds_per_day: float
    simulated: str
    """One line about the simulation: partners, customers, how billing is sent."""
    kept: bool
    token_days: int

    def commands(self) -> list[tuple[str, str]]:
        """(what it shows, the command) for the partner: its book of business, its ledger
        balance, its open nudges."""
        auth = '-H "Authorization: Bearer $PARTNER_TOKEN"'
        base = f"{self.gateway}/v1"
        return [
            (
                "its book of business, worst health first, with trends",
                f'curl -sS "{base}/partners/{self.partner}/customers?sort=score" {auth}',
            ),
            (
                "its incentive ledger balance (accrued, held, payable) per currency",
                f'curl -sS "{base}/incentives/partners/{self.partner}/balance" {auth}',
            ),
            (
                "its open nudges (stalled onboarding, payment failed, renewal at risk, ...)",
                f'curl -sS "{base}/nudges?status=open" {auth}',
            ),
        ]

    def text(self) -> str:
        services = "\n".join(
            f"  {name:<15} {url}  (for debugging; docs: /docs, metrics: /metrics)"
            for name, url in self.services.items()
        )
        infrastructure = "\n".join(f"  {n:<15} {v}" for n, v in self.infrastructure.items())
        exports = "\n".join(f"  export {name}={token}" for name, token in self.tokens.items())
        commands = "\n".join(f"  # {what}\n  {command}" for what, command in self.commands())
        kept = (
            "kept from the last run (--keep-state): the simulation goes on where it stopped"
            if self.kept
            else "fresh; make dev KEEP_STATE=1 keeps it"
        )
        return f"""
Fourfold is running (Ctrl-C stops everything).

  gateway         {self.gateway}  (every public /v1 route: the one URL to use)
  API docs        {self.gateway}/docs  ({self.gateway}/openapi.json)
{services}
{infrastructure}
  state           {kept}

Tokens, valid {self.token_days} days of real time (`fourfold token issue` signs with this \
stack's secret while it runs, so its tokens work here too):
{exports}

{TRY_IT}, as partner {self.partner} (paste the exports above first):
{commands}

{BANNER_END} ({self.simulated}) runs on a clock where one day passes every \
{self.seconds_per_day:g} s: run the commands again in a minute and scores, balances and \
nudges have moved.
"""


def commands_in(text: str) -> list[str]:
    """The commands of a printed banner, in order."""
    section = text[text.index(TRY_IT) :].split(BANNER_END)[0]
    return [line.strip() for line in section.splitlines() if line.strip().startswith("curl ")]
