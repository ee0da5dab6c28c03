"""The broker's replay window, and the inbox retention that never prunes inside it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from fourfold.kafka.inbox_retention import REPLAY_MARGIN, safe_retention
from fourfold.kafka.replay_window import ReplayWindow, window_from_config

DAY_MS = 24 * 3600 * 1000
WEEK = timedelta(days=7)


@pytest.mark.parametrize(
    ("config", "keeps_for"),
    [
        ({"retention.ms": str(7 * DAY_MS), "segment.ms": str(7 * DAY_MS)}, 2 * WEEK),
        ({"retention.ms": str(3 * DAY_MS), "segment.ms": str(DAY_MS)}, timedelta(days=4)),
        ({"retention.ms": str(3 * DAY_MS)}, timedelta(days=3) + WEEK),  # Kafka's segment.ms
        (
            {"retention.ms": str(DAY_MS), "segment.ms": "1", "cleanup.policy": "compact,delete"},
            timedelta(days=1, milliseconds=1),
        ),
        ({"retention.ms": str(DAY_MS), "segment.ms": "0"}, timedelta(days=1) + WEEK),
        ({"retention.ms": "-1"}, None),
        ({"retention.ms": str(2**63 - 1)}, None),  # Long.MAX: "keep", not a date range
        ({"retention.ms": str(10**15)}, None),  # ~31,700 years
        ({"retention.ms": str(DAY_MS), "cleanup.policy": "compact"}, None),
    ],
)
def test_the_window_is_retention_plus_one_segment_or_forever(
    config: dict[str, str], keeps_for: timedelta | None
) -> None:
    assert window_from_config("t", config) == ReplayWindow("t", keeps_for)


def test_a_broker_that_describes_no_retention_gives_no_window() -> None:
    assert window_from_config("t", {}) is None


def test_without_windows_the_configured_retention_holds() -> None:
    assert safe_retention(timedelta(days=3), []) == timedelta(days=3)


def test_a_retention_inside_the_longest_window_is_raised_beyond_it() -> None:
    windows = [ReplayWindow("a", WEEK), ReplayWindow("b", 2 * WEEK)]
    assert safe_retention(2 * WEEK, windows) == 2 * WEEK + REPLAY_MARGIN
    assert safe_retention(timedelta(days=8), windows) == 2 * WEEK + REPLAY_MARGIN


def test_a_retention_beyond_every_window_and_margin_is_kept() -> None:
    windows = [ReplayWindow("a", 2 * WEEK)]
    assert safe_retention(timedelta(days=21), windows) == timedelta(days=21)


def test_a_topic_kept_forever_turns_pruning_off() -> None:
    windows = [ReplayWindow("a", WEEK), ReplayWindow("b", None)]
    assert safe_retention(timedelta(days=365), windows) is None
