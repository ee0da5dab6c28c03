"""Next-step and title texts: Jinja2 in its sandbox, strict about undefined names.

Every template is compiled and rendered once with sample facts when the configuration is
loaded, so a typo or an unknown variable is a configuration error at start, never a crash
at delivery. The sandbox refuses attribute tricks (`__class__`, calling methods that
mutate); autoescape is off because the texts go to JSON, Slack and plain-text email, each
of which escapes for itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from fourfold.notifications.domain.config import ConfigError, RuleConfig, RuleName
from fourfold.notifications.domain.rules import day_counts

SAMPLE_FACTS: dict[RuleName, dict[str, Any]] = {
    RuleName.IMPLEMENT_STALLED: {
        "started_on": "2026-06-01",
        "activation": 0.1,
        "activation_below": 0.3,
        "missing_milestones": ["users_trained"],
    },
    RuleName.INCREASE_OPPORTUNITY: {
        "utilisation": 0.95,
        "utilisation_at_least": 0.9,
        "at_or_above_since": "2026-06-08T12:00:00+00:00",
        "seats": 20,
    },
    RuleName.RENEWAL_AT_RISK: {
        "term_end": "2026-08-21",
        "band": "red",
        "score": 35,
    },
    RuleName.HEALTH_DROP: {"score": 50, "previous_high": 70, "drop": 20, "within_days": 14},
    RuleName.PAYMENT_FAILED: {"invoices": ["in_1"], "failed_count": 1},
}
"""Facts of the shape each rule produces (what `rules.py` returns), for the start check."""
SAMPLE_NOW = datetime(2026, 6, 22, tzinfo=UTC)
"""When the sample facts are rendered (21 days after `started_on`, 60 before `term_end`)."""

MAX_TEXT = 2000


@dataclass(frozen=True, slots=True)
class Rendered:
    title: str
    next_step: str


class Templates:
    """The compiled title and next-step template of every rule."""

    def __init__(self, config: RuleConfig) -> None:
        env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
        self._compiled: dict[tuple[RuleName, str], Template] = {}
        errors: list[dict[str, Any]] = []
        for rule in RuleName:
            text = config.rules.text(rule)
            for field in ("title", "next_step"):
                try:
                    self._compiled[(rule, field)] = env.from_string(getattr(text, field))
                except TemplateError as exc:
                    errors.append(_error(rule, field, exc))
        if errors:
            raise ConfigError(errors)
        for rule in RuleName:
            try:
                self.render(
                    rule,
                    customer_id="c-sample",
                    partner_id="p-sample",
                    facts=SAMPLE_FACTS[rule],
                    severity="info",
                    now=SAMPLE_NOW,
                )
            except ConfigError as exc:
                errors.extend(exc.errors)
        if errors:
            raise ConfigError(errors)

    def render(
        self,
        rule: RuleName,
        *,
        customer_id: str,
        partner_id: str,
        facts: Mapping[str, Any],
        severity: str,
        now: datetime,
    ) -> Rendered:
        """Render both texts at `now` (the day counts are worked out from the facts' dates
        then); a failure names the rule's template (a ConfigError)."""
        context = {
            **facts,
            **day_counts(rule, facts, now),
            "customer_id": customer_id,
            "partner_id": partner_id,
            "rule": rule.value,
            "severity": severity,
        }
        out: dict[str, str] = {}
        for field in ("title", "next_step"):
            try:
                text = self._compiled[(rule, field)].render(context)
            except Exception as exc:  # a sandbox refusal, an undefined name, a type error
                raise ConfigError([_error(rule, field, exc)]) from None
            out[field] = " ".join(text.split())[:MAX_TEXT] or rule.value
        return Rendered(title=out["title"][:200], next_step=out["next_step"])


def _error(rule: RuleName, field: str, exc: Exception) -> dict[str, Any]:
    return {
        "loc": ["rules", rule.value, field],
        "msg": f"template error: {exc}",
        "type": "template",
    }
