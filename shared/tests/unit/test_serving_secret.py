"""Services refuse a guessable signing secret once they talk to named infrastructure."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from fourfold.settings import DEV_AUTH_SECRET, FourfoldSettings

OWN = "an-operator-chosen-secret-of-enough-length"


def settings(**values: object) -> FourfoldSettings:
    """Everything embedded unless `values` name a server, whatever this shell exports (the
    tests themselves may run against FOURFOLD_DATABASE_URL)."""
    embedded = {"kafka_bootstrap_servers": None, "database_url": None}
    return FourfoldSettings.model_validate(embedded | values)


def test_the_dev_default_is_fine_when_everything_is_embedded() -> None:
    settings().check_serving_secret()


@pytest.mark.parametrize(
    "named",
    [
        {"kafka_bootstrap_servers": "kafka:9092"},
        {"database_url": "postgresql+asyncpg://db/fourfold"},
    ],
)
def test_the_dev_default_is_refused_with_named_infrastructure(named: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="FOURFOLD_AUTH_SECRET is the public dev default"):
        settings(**named).check_serving_secret()
    settings(**named, auth_secret=SecretStr(OWN)).check_serving_secret()


def test_a_short_secret_is_refused_naming_the_setting() -> None:
    with pytest.raises(ValueError, match="FOURFOLD_AUTH_SECRET must be at least 32 bytes"):
        settings(auth_secret=SecretStr("replace-me")).check_serving_secret()


def test_the_default_is_the_documented_one() -> None:
    assert settings().auth_secret.get_secret_value() == DEV_AUTH_SECRET
