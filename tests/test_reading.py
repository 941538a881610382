"""The reading model as it ships: the committed weights are the ones the training log names,
within the size budget, and load and read on ONNX Runtime with no PyTorch installed; the
fitted combination that turns its scores into an answer's."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from assistant.answer.combination import FEATURES, FITTED, Combination
from assistant.answer.extractive import ExtractiveAnswerer
from assistant.answer.reading import WEIGHTS, ReadingModel
from assistant.errors import EmbeddingError
from assistant.index.records import Hit
from assistant.ingest.chunking import split_sentences
from assistant.ingest.files import parse_file

from .conftest import ROOT, SEEDS, reading_model
from .stated_corpus import StatedCorpus

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


def test_an_answers_sentences_embedded_alone_get_the_vectors_a_batch_gives(
        seeds_runtime, embedder) -> None:
    """Answers embed their sentences one at a time for speed; the vectors, and so every
    score and answer, are the batch's (the seeds' sentences: short and long together)."""
    articles = [a for f in sorted(SEEDS.iterdir()) for a in parse_file(f)]
    sentences = [a.text[s:e] for a in articles for s, e in split_sentences(a.text)]
    alone = seeds_runtime.extractive.vectors.embedder
    assert alone.batch_size == 1 and alone is not embedder
    np.testing.assert_allclose(alone.embed(sentences), embedder.embed(sentences), atol=1e-5)


def test_the_answer_combination_ships_fitted_and_a_broken_file_is_named(tmp_path) -> None:
    """The shipped weights load; a file fitted on other features is refused by name,
    not read as if its columns lined up."""
    shipped = Combination.load()
    assert 0.0 < shipped.threshold < 1.0
    assert len(shipped.sentence.weights) == len(shipped.answer.weights) == len(FEATURES)
    data = json.loads(FITTED.read_text())
    data["features"] = [*FEATURES[:-1], "headline"]
    wrong = tmp_path / "combination.json"
    wrong.write_text(json.dumps(data))
    with pytest.raises(EmbeddingError, match=r"combination\.json.*headline"):
        Combination.load(wrong)


def test_a_report_from_other_days_counts_against_it_only_when_those_days_are_held(
        embedder) -> None:
    """A question about now (the asker's fortnight) is answered from an older report when
    the store holds nothing of now (last year's articles, essays); when the store holds
    reports of the asked days and this one is not among them, the same sentence is much
    less likely to be the answer: the store's own week did not report it."""
    text = ("The city council approved a new tram line to the airport on Tuesday, with "
            "construction to start next spring.")
    hit = Hit("t::0", "t", text, 0, len(text), 1.0, "Tram line approved", "2023-05-02",
              "Example Daily", None)
    question = "What did the city council approve for the airport?"
    vector = embedder.embed([question])[0]

    def answerer(held: bool) -> ExtractiveAnswerer:
        return ExtractiveAnswerer(embedder, reading_model(), Combination.load(),
                                  corpus=StatedCorpus(days=held))

    today = date(2024, 6, 1)
    old_store = answerer(False).answer(question, vector, [hit], today=today)
    assert not old_store.abstained and "tram line" in old_store.answer
    this_week_held = answerer(True).answer(question, vector, [hit], today=today)
    assert (this_week_held.confidence or 0.0) < (old_store.confidence or 0.0) / 2


def test_the_built_reader_is_kept_and_read_back_the_same(tmp_path: Path) -> None:
    """The int8 graph built once is kept in the cache folder; the next process reads it back
    instead of building it, and scores exactly as the one that built it. A damaged file is
    built again, not an error."""
    question = "How long did the meeting last?"
    pairs = ["The meeting lasted about 90 minutes.", "Rice prices rose in Tokyo."]
    built = ReadingModel(cache=tmp_path)
    kept = list(tmp_path.glob("reader-*.onnx"))
    assert len(kept) == 1
    stamp = kept[0].stat().st_mtime_ns
    again = ReadingModel(cache=tmp_path)
    assert kept[0].stat().st_mtime_ns == stamp  # read, not written again
    assert np.array_equal(again.score(question, pairs), built.score(question, pairs))
    kept[0].write_bytes(b"not a graph")
    repaired = ReadingModel(cache=tmp_path)
    assert np.array_equal(repaired.score(question, pairs), built.score(question, pairs))
    assert kept[0].read_bytes() != b"not a graph"


def test_a_question_s_models_load_beside_the_imports_only_from_kept_graphs(
        tmp_path: Path, embedder) -> None:
    """A fresh `assistant ask` loads the embedder and the reader on a thread while it imports
    the libraries. That thread never builds a graph (building imports onnx, which the main
    thread's imports share): with a cold cache it hands back nothing and writes nothing; once
    the graphs are kept it hands back models that read as the ones that built them."""
    from assistant.config import Settings
    from assistant.errors import GraphNotKept
    from assistant.index.embedding import make_embedder
    from assistant.surfaces.preload import load_models

    settings = Settings.load(env={}, cache_dir=str(tmp_path))
    with pytest.raises(GraphNotKept):
        ReadingModel.from_settings(settings, build=False)
    cold = load_models(settings).result()
    assert (cold.embedder, cold.reader) == (None, None)
    assert not list(tmp_path.iterdir())

    built = ReadingModel.from_settings(settings)
    built_embedder = make_embedder(settings)
    warm = load_models(settings).result()
    assert warm.embedder is not None and warm.reader is not None
    question = "How long did the meeting last?"
    pairs = ["The meeting lasted about 90 minutes.", "Rice prices rose in Tokyo."]
    assert np.array_equal(warm.reader.score(question, pairs), built.score(question, pairs))
    assert np.allclose(warm.embedder.embed(pairs), built_embedder.embed(pairs), atol=1e-6)
    assert np.allclose(warm.embedder.embed(pairs), embedder.embed(pairs), atol=1e-5)
