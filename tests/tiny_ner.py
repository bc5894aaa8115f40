"""A tiny spaCy NER pipeline trained in a few seconds on sentences written for the tests (no model download)."""

from __future__ import annotations

import random

import spacy
from spacy.language import Language
from spacy.training import Example
from thinc.api import fix_random_seed

# Made-up organisations and people, plus one watched company, in a handful of news-like frames.
ORGS = [
    "Zentrix Labs",
    "Norvale Group",
    "Quillmark Technologies",
    "Bravik Holdings",
    "Solenne Capital",
    "Alibaba Group",
]
PEOPLE = ["Mara Quell", "Tomas Brenner", "Li Wenjie", "Anika Sorel", "David Okafor", "Hana Vesely"]
FRAMES = [
    "{org} said on Monday that sales rose.",
    "Shares of {org} fell sharply in Hong Kong.",
    "Analysts expect {org} to report higher profit.",
    "{person} , the chief executive, said the plan would work.",
    "The deal was announced by {person} in Shanghai.",
    "{person} joined {org} last year as chairman.",
    "Investors in {org} welcomed the news, {person} said.",
]


def training_examples(nlp: Language) -> list[Example]:
    """Forty-two labelled sentences built from the frames, with a fixed seed."""
    rng = random.Random(0)
    examples = []
    for index in range(42):
        frame = FRAMES[index % len(FRAMES)]
        org, person = rng.choice(ORGS), rng.choice(PEOPLE)
        text = frame.format(org=org, person=person)
        entities = []
        if "{org}" in frame:
            start = text.index(org)
            entities.append((start, start + len(org), "ORG"))
        if "{person}" in frame:
            start = text.index(person)
            entities.append((start, start + len(person), "PERSON"))
        examples.append(Example.from_dict(nlp.make_doc(text), {"entities": entities}))
    return examples


def train_tiny_ner() -> Language:
    """A blank English pipeline with an `ner` component trained for a few seconds, deterministically."""
    fix_random_seed(0)
    nlp = spacy.blank("en")
    component = nlp.add_pipe("ner")
    for label in ("ORG", "PERSON"):
        component.add_label(label)  # type: ignore[attr-defined]
    examples = training_examples(nlp)
    optimizer = nlp.initialize(lambda: examples)
    rng = random.Random(0)
    for _ in range(20):
        rng.shuffle(examples)
        for start in range(0, len(examples), 4):
            nlp.update(examples[start : start + 4], sgd=optimizer, drop=0.1)
    return nlp
