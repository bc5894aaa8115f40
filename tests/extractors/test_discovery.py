"""Name discovery with a statistical NER pipeline: a tiny one is trained here on sentences written for the test."""

from __future__ import annotations

from pathlib import Path

import pytest
import spacy
from spacy.language import Language

from extractors.discovery import discover_names, load_ner_model
from extractors.models import DiscoveredName, Watchlist
from extractors.watchlist import load_watchlist
from presswatch.errors import ConfigError
from tests.tiny_ner import train_tiny_ner

SHIPPED = Path(__file__).resolve().parents[2] / "seeds" / "watchlist.yaml"


@pytest.fixture(scope="module")
def ner() -> Language:
    """A blank English pipeline with an `ner` trained for a few seconds, with a fixed seed."""
    return train_tiny_ner()


@pytest.fixture(scope="module")
def watchlist() -> Watchlist:
    return load_watchlist(SHIPPED)


def test_an_unlisted_organisation_in_a_new_sentence_is_discovered(ner: Language, watchlist: Watchlist) -> None:
    text = "Shares of Veltrax Group fell sharply in Hong Kong. Analysts expect Veltrax Group to report higher profit."
    assert discover_names(text, ner, watchlist) == [DiscoveredName("Veltrax Group", "ORG", 2)]


def test_watched_names_are_not_discovered(ner: Language, watchlist: Watchlist) -> None:
    # The model tags Alibaba Group as an ORG (it saw it in training); it is watched, so it is no discovery.
    assert "Alibaba Group" in {ent.text for ent in ner("Shares of Alibaba Group fell sharply in Hong Kong.").ents}
    text = "Shares of Alibaba Group fell sharply. Analysts expect Orbanis Technologies to report higher profit."
    assert [(name.text, name.label) for name in discover_names(text, ner, watchlist)] == [
        ("Orbanis Technologies", "ORG")
    ]


def test_people_are_discovered_and_labels_can_be_limited(ner: Language, watchlist: Watchlist) -> None:
    text = "Sara Lindqvist joined Veltrax Group last year as chairman."
    assert discover_names(text, ner, watchlist) == [
        DiscoveredName("Sara Lindqvist", "PERSON", 1),
        DiscoveredName("Veltrax Group", "ORG", 1),
    ]
    assert discover_names(text, ner, watchlist, labels=("PERSON",)) == [DiscoveredName("Sara Lindqvist", "PERSON", 1)]


def test_the_headline_counts_too(ner: Language, watchlist: Watchlist) -> None:
    found = discover_names(
        "Analysts expect Veltrax Group to report higher profit.",
        ner,
        watchlist,
        title="Shares of Veltrax Group fell sharply in Hong Kong.",
    )
    assert DiscoveredName("Veltrax Group", "ORG", 2) in found


def test_a_trained_pipeline_saved_to_disk_loads_by_path(ner: Language, watchlist: Watchlist, tmp_path: Path) -> None:
    ner.to_disk(tmp_path / "tiny-ner")
    loaded = load_ner_model(str(tmp_path / "tiny-ner"))
    assert "ner" in loaded.pipe_names
    assert discover_names("Shares of Veltrax Group fell sharply in Hong Kong.", loaded, watchlist)[0].text == (
        "Veltrax Group"
    )


def test_a_missing_model_says_how_to_install_it() -> None:
    with pytest.raises(ConfigError) as caught:
        load_ner_model("en_core_web_sm_not_here")
    message = str(caught.value)
    assert "'en_core_web_sm_not_here' is not installed" in message
    assert "pip install https://github.com/explosion/spacy-models/releases/download/" in message
    assert "PRESSWATCH_SPACY_MODEL=en_core_web_sm_not_here" in message
    assert "\n" not in message


def test_a_pipeline_without_ner_is_refused(tmp_path: Path) -> None:
    spacy.blank("en").to_disk(tmp_path / "blank")
    with pytest.raises(ConfigError, match="has no 'ner' component"):
        load_ner_model(str(tmp_path / "blank"))
