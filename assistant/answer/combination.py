"""How a sentence's evidence becomes its scores: two logistic models fitted on the dev sets.

Each sentence the reader read has six features (``FEATURES``): its meaning's closeness to
the question (MiniLM cosine), the share of the question's words it holds, the reading
model's logit, whether its report is dated outside the days the question is about, its
article's place in retrieval's ranking, and whether the store holds no report of those days
at all (essays, last year's articles asked about today: a question read on its merits
alone, which the fit gives its own bias). From them:

- ``sentence``: the probability that this sentence answers the question; it orders the
  sentences;
- ``answer``: the probability that the question is answered when this sentence leads; the
  answer abstains when the leading sentence's is below the threshold (``threshold`` when
  the store holds reports of the asked days, ``threshold_no_window`` when it holds none),
  and the bar a rival answer must clear is on this scale too.

Weights and threshold are fitted, not set: ``scripts/reader/fit_combination.py`` fits them
on the news, essay and seed dev sets and our unanswerable questions, with each news week
(and each fifth of the essays, each quarter of the seeds and negatives) left out in turn,
and writes ``assistant/models/combination.json`` (docs/reader-training.md gives the
command and the figures).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np

from assistant.errors import EmbeddingError

FEATURES = ("semantic", "lexical", "reading", "other_days", "article_rank", "no_window")
FITTED = Path(__file__).resolve().parent.parent / "models" / "combination.json"


@dataclass(frozen=True, kw_only=True)
class Logistic:
    weights: tuple[float, ...]  # one per name of FEATURES, in that order
    bias: float

    @classmethod
    def of(cls, data: Mapping[str, object]) -> Logistic:
        """From its JSON form: ``{"weights": [...], "bias": b}``."""
        weights = tuple(float(w) for w in cast(Sequence[float], data["weights"]))
        if len(weights) != len(FEATURES):
            raise ValueError(f"{len(weights)} weights for {len(FEATURES)} features")
        return cls(weights=weights, bias=float(cast(float, data["bias"])))

    def probability(self, features: np.ndarray) -> np.ndarray:
        """One probability per row of ``features`` (columns in FEATURES' order)."""
        z = features @ np.asarray(self.weights, dtype=np.float64) + self.bias
        return np.asarray(1.0 / (1.0 + np.exp(-z)))


@dataclass(frozen=True, kw_only=True)
class Combination:
    sentence: Logistic
    answer: Logistic
    threshold: float  # the leading sentence's answer probability below which it abstains
    threshold_no_window: float  # ... when the store holds no report of the asked days

    def threshold_for(self, window_held: bool) -> float:
        return self.threshold if window_held else self.threshold_no_window

    @classmethod
    def load(cls, path: Path = FITTED) -> Combination:
        try:
            data = json.loads(path.read_text())
            if tuple(data["features"]) != FEATURES:
                raise ValueError(f"features {data['features']} are not {list(FEATURES)}")
            return cls(sentence=Logistic.of(data["sentence"]),
                       answer=Logistic.of(data["answer"]),
                       threshold=float(data["answer"]["threshold"]),
                       threshold_no_window=float(data["answer"]["threshold_no_window"]))
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise EmbeddingError(f"cannot read the answer combination {path}: {e}") from e


def feature_rows(semantic: Sequence[float], lexical: Sequence[float],
                 reading: Sequence[float], other_days: Sequence[bool],
                 article_rank: Sequence[int], no_window: bool) -> np.ndarray:
    """The feature matrix, one row per sentence; the rank enters as 1/(1+rank), so that the
    first article counts most and the tail of the ranking alike."""
    return np.column_stack([
        np.asarray(semantic, dtype=np.float64),
        np.asarray(lexical, dtype=np.float64),
        np.asarray(reading, dtype=np.float64),
        np.asarray(other_days, dtype=np.float64),
        1.0 / (1.0 + np.asarray(article_rank, dtype=np.float64)),
        np.full(len(semantic), float(no_window)),
    ]) if len(semantic) else np.zeros((0, len(FEATURES)))
