"""Which phrase of the asked kind is the direct answer: a conditional logit fitted on
RealTime QA's 2022-2023 answer spans.

Each distinct phrase (by its normalised text) that the good sentences hold gets one row of
``FEATURES``: the probability of its best sentence (``lead``), whether that sentence leads
(``first``), the share of the good sentences' probability that also holds it
(``agreement``), how near it stands to the question's words within its sentence relative to
the sentence's nearest phrase (``near_words``), its closeness to the noun the question asks
for ("which sport", ``near_noun``), whether it is of the kind's second choice (an
organisation for "who", ``other_kind``), whether it is a bare year where a good sentence
gives a day for "when" (``bare_year``), where it stands in its sentence (``position``), its
length in words (``length``), and the share of its content words the question holds
(``own_words``). The phrase whose row scores highest is the answer.

The weights are fitted, not set: ``scripts/reader/fit_phrases.py`` collects the rows the
reader makes for the training questions' own search results, labels a phrase by whether it
holds the week's answer, and fits the weights with a softmax over each question's phrases
(docs/reader-training.md gives the command and the figures).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..entities import Entity, fold
from ..errors import EmbeddingError
from ..text import MONTH_PATTERN, content_stems
from .sentences import Candidate

FEATURES = ("lead", "first", "agreement", "near_words", "near_noun", "other_kind",
            "bare_year", "position", "length", "own_words")
FITTED = Path(__file__).resolve().parent.parent / "models" / "phrases.json"

Closeness = dict[int, dict[Entity, float]]  # per candidate, each phrase's nearness
Phrases = dict[int, list[Entity]]  # per candidate, the phrases of the asked kind it holds

_MONTH = rf"(?:{MONTH_PATTERN})\b\.?"
_DAY = re.compile(rf"\b{_MONTH}\s+\d{{1,2}}\b|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}",
                  re.I)
_BARE_YEAR = re.compile(r"(?:in\s+)?(?:19|20)\d\d")
WHO_KIND = frozenset({"PERSON", "ORG", "GPE", "NORP"})  # what "who ...?" asks for


def person_first(kind: frozenset[str]) -> bool:
    """"Who" asks for a person first, a body or a country second; "which company" or
    "what is the name of" asks for any name alike."""
    return "PERSON" in kind and len(kind) > 1 and kind <= WHO_KIND


@dataclass(frozen=True, kw_only=True)
class PhraseRows:
    """The distinct phrases, each with the sentence that states it best, and their rows."""

    chosen: list[tuple[int, Entity]]
    rows: np.ndarray  # one row of FEATURES per entry of ``chosen``


def phrase_rows(cands: list[Candidate], order: list[int], phrases: Phrases, cutoff: float,
                asked_stems: set[str], *, prefer_person: bool = False,
                prefer_day: bool = False, weight: dict[str, float] | None = None,
                close: Closeness | None = None) -> PhraseRows:
    """The rows of the phrases that the sentences of ``order`` scoring ``cutoff`` or more
    hold (the first sentence's when none does)."""
    good = [i for i in order if cands[i].score >= cutoff] or order[:1]
    prefer_day = prefer_day and any(_DAY.search(e.text) for i in good for e in phrases[i])
    total = sum(cands[i].score for i in good) or 1.0
    best: dict[str, tuple[int, Entity]] = {}
    held: dict[str, float] = {}
    near: dict[str, float] = {}
    for i in good:
        nearness = (close or {}).get(i, {})
        nearest = max((nearness.get(e, 1.0) for e in phrases[i]), default=1.0) or 1.0
        seen: set[str] = set()
        for e in phrases[i]:
            name = fold(e.text)
            best.setdefault(name, (i, e))
            near[name] = max(near.get(name, 0.0), nearness.get(e, 1.0) / nearest)
            if name not in seen:
                seen.add(name)
                held[name] = held.get(name, 0.0) + cands[i].score
    rows = []
    for name, (i, e) in best.items():
        own = set(content_stems(e.text))
        text = cands[i].text
        rows.append([
            cands[i].score,
            float(i == good[0]),
            (held[name] - cands[i].score) / total,
            near[name],
            (weight or {}).get(name, 0.0),
            float(prefer_person and e.label != "PERSON"),
            float(prefer_day and bool(_BARE_YEAR.fullmatch(name))),
            e.start / max(len(text), 1),
            min(len(e.text.split()), 8) / 8,
            len(own & asked_stems) / len(own) if own else 0.0,
        ])
    return PhraseRows(chosen=list(best.values()),
                      rows=np.asarray(rows, dtype=np.float64).reshape(-1, len(FEATURES)))


@dataclass(frozen=True, kw_only=True)
class PhraseModel:
    weights: tuple[float, ...]  # one per name of FEATURES, in that order

    @classmethod
    def load(cls, path: Path = FITTED) -> PhraseModel:
        try:
            data = json.loads(path.read_text())
            if tuple(data["features"]) != FEATURES:
                raise ValueError(f"features {data['features']} are not {list(FEATURES)}")
            weights = tuple(float(w) for w in data["weights"])
            if len(weights) != len(FEATURES):
                raise ValueError(f"{len(weights)} weights for {len(FEATURES)} features")
            return cls(weights=weights)
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise EmbeddingError(f"cannot read the phrase model {path}: {e}") from e

    def scores(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray(rows @ np.asarray(self.weights, dtype=np.float64))

    def choose(self, table: PhraseRows) -> tuple[int, Entity] | None:
        """The phrase whose row scores highest, and the sentence that states it best."""
        if not table.chosen:
            return None
        return table.chosen[int(np.argmax(self.scores(table.rows)))]
