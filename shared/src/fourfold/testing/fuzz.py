"""Schemathesis against a running service: every operation of its published OpenAPI document,
positive and negative cases, bounded so a run stays short, failing on any finding.

    statuses = fuzz(app.openapi(), base_url, token_for=lambda method, path: admin)

`token_for(method, path)` gives the Authorization header each operation needs (None: send
none; `bearer(secret, role, partner_id)` makes one). The checks: no 5xx, every status
documented, every body matching its schema, the documented content type. Returns how often
each (method, path, status) was seen, so a test can also insist on, say, some 202s.
"""

from __future__ import annotations

import re
import warnings
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import HypothesisDeprecationWarning
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from fourfold.auth import Role, issue_token

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    content_type_conformance,
]
TokenFor = Callable[[str, str], dict[str, str] | None]


def bearer(secret: str, role: Role, partner_id: str | None = None) -> dict[str, str]:
    """The Authorization header of a token the service under test accepts, issued now."""
    token = issue_token(
        secret=secret,
        issuer="fourfold",
        role=role,
        subject=f"fuzz-{role}",
        partner_id=partner_id,
        now=datetime.now(UTC),
    )
    return {"Authorization": f"Bearer {token}"}


def fuzz(
    document: dict[str, Any],
    base_url: str,
    *,
    token_for: TokenFor,
    max_examples: int = 30,
    skip: Callable[[str, str], bool] = lambda method, path: False,
    known: dict[str, str] | None = None,
) -> Counter[tuple[str, str, int]]:
    """Run every operation of `document` against `base_url`; raise on the first finding.

    `known` path parameter values (ids of seeded data) are used for a third of the positive
    cases of an operation whose path parameters they all name, so reads find something."""
    schema = schemathesis.openapi.from_dict(document)
    seen: Counter[tuple[str, str, int]] = Counter()
    with requests.Session() as session:
        for result in schema.get_all_operations():
            if isinstance(result, Err):
                raise result.err()
            operation = result.ok()
            method, path = operation.method.upper(), operation.path
            if skip(method, path):
                continue
            strategies = [
                operation.as_strategy(GenerationMode.POSITIVE),
                operation.as_strategy(GenerationMode.NEGATIVE),
            ]
            names = set(re.findall(r"{(\w+)}", path))
            if names and known and names <= known.keys():
                fixed = {name: known[name] for name in names}
                strategies.append(
                    operation.as_strategy(GenerationMode.POSITIVE, path_parameters=fixed)
                )
            call = _caller(base_url, session, token_for(method, path), seen, max_examples)
            with warnings.catch_warnings():
                # schemathesis' negative generation draws from `random` inside a strategy
                warnings.filterwarnings(
                    "ignore",
                    message="Do not use the `random` module",
                    category=HypothesisDeprecationWarning,
                )
                call(st.one_of(*strategies))
    return seen


def _caller(
    base_url: str,
    session: requests.Session,
    headers: dict[str, str] | None,
    seen: Counter[tuple[str, str, int]],
    max_examples: int,
) -> Callable[[st.SearchStrategy[Any]], None]:
    """A runner of one operation's cases: call, check, count the status."""

    def call(strategy: st.SearchStrategy[Any]) -> None:
        @settings(
            max_examples=max_examples,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy)
        def run(case: Any) -> None:
            response = case.call_and_validate(
                base_url=base_url, session=session, headers=headers, checks=CHECKS, timeout=30
            )
            seen[(case.method.upper(), case.path, response.status_code)] += 1

        run()

    return call
