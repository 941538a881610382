"""The reading model as it ships: the committed weights are the ones the training log names,
within the size budget, and load and read on ONNX Runtime with no PyTorch installed."""

from __future__ import annotations

import hashlib
import importlib.util
import re

from assistant.articles import parse_file
from assistant.chunking import split_sentences
from assistant.reading import WEIGHTS, ReadingModel

from .conftest import ROOT, SEEDS

BUDGET_BYTES = 12_000_000  # the stated budget (docs/reader-training.md)


def test_the_shipped_weights_are_the_logged_ones_and_small() -> None:
    data = WEIGHTS.read_bytes()
    assert len(data) < BUDGET_BYTES
    log = (ROOT / "docs" / "reader-training.md").read_text()
    shipped = re.search(r"Shipped: `assistant/models/reader.safetensors`, SHA-256 `(\w+)`", log)
    assert shipped and shipped.group(1) == hashlib.sha256(data).hexdigest()


def test_it_reads_without_pytorch_and_finds_the_answering_sentence() -> None:
    assert importlib.util.find_spec("torch") is None  # the app's environment has none
    articles = [a for f in sorted(SEEDS.iterdir()) for a in parse_file(f)]
    sentences = [a.text[s:e] for a in articles for s, e in split_sentences(a.text)]
    model = ReadingModel()
    scores = model.score("What did Takaichi and Starmer agree on cyber?", sentences)
    assert scores.shape == (len(sentences),)
    assert "cyberdefense" in sentences[int(scores.argmax())]
    fighter = model.score("When is the next-generation fighter aircraft expected to be deployed?",
                          sentences)
    assert "2035" in sentences[int(fighter.argmax())]
    assert model.score("anything", []).shape == (0,)
