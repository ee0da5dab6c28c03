"""A replica's name in its group: which member ids the broker gave a client of that name."""

from __future__ import annotations

import pytest

from fourfold.kafka.membership import carries_name, instance_name

UUID = "6c9eb380-0540-44fc-bbd4-ebde77862766"


@pytest.mark.parametrize(
    ("member_id", "name", "carries"),
    [
        (f"worker-1-{UUID}", "worker-1", True),
        (f"worker-10-{UUID}", "worker-1", False),  # another replica whose name starts alike
        (f"a-b-{UUID}", "a", False),  # "b-<uuid>" is not a uuid
        (f"worker-1-{UUID}x", "worker-1", False),
        (f"worker-1-{UUID.upper()}", "worker-1", False),  # brokers write uuids in lower case
        ("worker-1", "worker-1", False),
        (f"aiokafka-0.14.0-{UUID}", "worker-1", False),
    ],
)
def test_a_member_carries_a_name_only_as_name_dash_uuid(
    member_id: str, name: str, carries: bool
) -> None:
    assert carries_name(member_id, name) is carries


def test_the_instance_name_defaults_to_service_and_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("socket.gethostname", lambda: "health-scoring-7d9f-abcde")
    assert instance_name(None, "health-scoring") == "health-scoring-health-scoring-7d9f-abcde"
    assert instance_name("replica-a", "health-scoring") == "replica-a"
