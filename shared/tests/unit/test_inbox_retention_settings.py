"""The inbox retention settings and the pruner refuse values that would delete live rows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import async_sessionmaker

from fourfold.db.runtime_tables import inbox_table
from fourfold.kafka.inbox_retention import InboxPruner
from fourfold.settings import FourfoldSettings


def test_the_defaults_keep_three_weeks_and_prune_every_quarter_hour() -> None:
    """Three weeks: a week beyond what Kafka's defaults may replay (7 days + a 7-day segment)."""
    fields = FourfoldSettings.model_fields  # the declared defaults, whatever the shell exports
    defaults = (fields["inbox_retention_days"].default, fields["inbox_prune_interval_s"].default)
    assert defaults == (21, 900.0)


@pytest.mark.parametrize(
    ("field", "value"),
    [("inbox_retention_days", 0), ("inbox_retention_days", 36_501), ("inbox_prune_interval_s", 0)],
)
def test_a_retention_or_interval_out_of_range_is_refused_naming_the_field(
    field: str, value: int
) -> None:
    with pytest.raises(ValidationError) as refused:
        FourfoldSettings.model_validate({field: value})
    assert refused.value.errors()[0]["loc"] == (field,)


@pytest.mark.parametrize("retention", [timedelta(0), timedelta(days=-1)])
def test_the_pruner_refuses_a_retention_that_is_not_positive(retention: timedelta) -> None:
    with pytest.raises(ValueError, match="inbox retention must be positive"):
        InboxPruner(
            sessions=async_sessionmaker(),
            inbox=inbox_table(MetaData()),
            retention=retention,
            interval_s=60,
            service="test",
        )
