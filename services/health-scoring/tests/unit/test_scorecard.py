"""The scorecard is configuration: the default loads, and mistakes name the field."""

from __future__ import annotations

import copy
import pickle
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from fourfold.health.domain.scorecard import (
    Band,
    ComponentName,
    LifecycleStep,
    ScorecardError,
    default_scorecard,
    load_scorecard,
    parse_scorecard,
)
from fourfold.health.domain.signals import Milestone

DEFAULT_PATH = Path(__file__).parents[2] / "src" / "fourfold" / "health" / "scorecard.default.yaml"
MINIMAL = """
version: v1
bands: {red_below: 40, green_from: 70}
components:
  adoption: {weight: 1}
lifecycle: {}
"""


def test_default_scorecard_has_every_component_and_a_version() -> None:
    card = default_scorecard()
    assert card == load_scorecard(DEFAULT_PATH)
    assert card.version
    assert set(card.components.configured) == set(ComponentName)
    assert card.lifecycle.core_milestones == {
        Milestone.KICKOFF,
        Milestone.CONFIGURED,
        Milestone.FIRST_VALUE,
    }


def test_weights_per_step_fall_back_to_the_default_weight() -> None:
    card = default_scorecard()
    implementation = card.components.implementation
    assert implementation is not None
    assert implementation.weight_for(LifecycleStep.IMPLEMENT) == Decimal(35)
    assert implementation.weight_for(LifecycleStep.INVOLVE) == Decimal(15)


def test_minimal_scorecard_uses_documented_defaults() -> None:
    card = parse_scorecard(MINIMAL)
    assert card.lifecycle.activation_utilisation == Decimal("0.5")
    assert card.components.configured.keys() == {ComponentName.ADOPTION}


def _mutated(path: list[str], value: object) -> str:
    data = yaml.safe_load(DEFAULT_PATH.read_text())
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return yaml.safe_dump(data)


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        (["components", "adoption", "weight"], -1, "components.adoption.weight"),
        (["components", "adoption", "full_at"], 1.5, "components.adoption.full_at"),
        (
            ["components", "breadth", "weights_by_step"],
            {"improve": -2},
            "components.breadth.weights_by_step.improve",
        ),
        (["components", "popularity"], {"weight": 1}, "components.popularity"),
        (["components", "adoption", "wieght"], 3, "components.adoption.wieght"),
        (
            ["components", "implementation", "expected_by_day"],
            {"kickof": 3},
            "components.implementation.expected_by_day.kickof",
        ),
        (["bands", "red_below"], 101, "bands.red_below"),
        (["lifecycle", "renewal_window_days"], -5, "lifecycle.renewal_window_days"),
        (["version"], "", "version"),
    ],
)
def test_validation_errors_name_the_field(path: list[str], value: object, named: str) -> None:
    with pytest.raises(ScorecardError) as caught:
        parse_scorecard(_mutated(path, value))
    assert named in str(caught.value)
    assert any(".".join(map(str, e["loc"])).startswith(named) for e in caught.value.errors)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version: [unclosed", "not valid YAML"),
        ("- a list", "expected a mapping"),
        (MINIMAL.replace("red_below: 40", "red_below: 80"), "red_below must not exceed"),
        (
            MINIMAL.replace(
                "adoption: {weight: 1}", "adoption: {weight: 1, weights_by_step: {increase: 0}}"
            ),
            "weights for step increase sum to zero",
        ),
        (MINIMAL.replace("adoption: {weight: 1}", "{}"), "at least one component"),
    ],
)
def test_whole_scorecard_mistakes_are_reported(text: str, message: str) -> None:
    with pytest.raises(ScorecardError, match=message):
        parse_scorecard(text)


@pytest.mark.parametrize(
    ("value", "band"),
    [
        (None, Band.UNKNOWN),
        (0, Band.RED),
        (39, Band.RED),
        (40, Band.YELLOW),
        (69, Band.YELLOW),
        (70, Band.GREEN),
        (100, Band.GREEN),
    ],
)
def test_bands_split_at_their_thresholds(value: int | None, band: Band) -> None:
    assert default_scorecard().bands.band_for(value) is band


def test_a_copy_with_other_components_does_not_keep_the_cached_maps() -> None:
    card = default_scorecard()
    assert ComponentName.ENGAGEMENT in card.components.configured  # cached now
    assert ComponentName.ENGAGEMENT in card.weights[LifecycleStep.IMPROVE]
    fewer = card.components.model_copy(update={"engagement": None})
    assert ComponentName.ENGAGEMENT not in fewer.configured
    smaller = card.model_copy(update={"components": fewer})
    assert ComponentName.ENGAGEMENT not in smaller.weights[LifecycleStep.IMPROVE]
    assert copy.deepcopy(card) == card
    assert pickle.loads(pickle.dumps(card)) == card
