"""The sentences an extractive answer is made of: every sentence of the retrieved chunks
once, with its scores, and a cache of their vectors."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from assistant.index.embedding import Embedder
from assistant.index.records import Hit


@dataclass
class Candidate:
    hit: Hit
    start: int  # offsets into the article text
    end: int
    text: str
    semantic: float = 0.0
    lexical: float = 0.0
    reading: float | None = None  # the reading model's logit; None: not read
    score: float = 0.0  # the probability that it answers (``combination``)
    answers: float = 0.0  # the probability that the question is answered if it leads
    stems: set[str] = field(default_factory=set)


class SentenceVectors:
    """An LRU of sentence vectors keyed by the sentence itself: popular passages, and the
    same sentence in syndicated copies, are embedded once, not per question."""

    def __init__(self, embedder: Embedder, size: int = 20_000) -> None:
        self.embedder = embedder
        self.size = size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()  # the UI answers several people at once

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()

    def get(self, cands: list[Candidate]) -> np.ndarray:
        return self.of([c.text for c in cands])

    def of(self, keys: list[str]) -> np.ndarray:
        with self._lock:
            found = {k: self._cache[k] for k in keys if k in self._cache}
        missing = list(dict.fromkeys(k for k in keys if k not in found))
        if missing:
            found.update(zip(missing, self.embedder.embed(missing), strict=True))
        with self._lock:
            for k in keys:
                self._cache[k] = found[k]
                self._cache.move_to_end(k)
            while len(self._cache) > self.size:
                self._cache.popitem(last=False)
        return np.stack([found[k] for k in keys]) if keys else np.zeros((0, 1))


# Bylines and datelines ("Written by Paul Graham", "By Jane Doe") name people without
# saying anything about them.
_BYLINE = re.compile(r"^\s*(?i:(?:written|reported|posted|edited|updated|published)\s+)?(?i:by)\s+"
                     r"[A-Z][\w.'-]*(?:\s+[A-Z][\w.'-]*){0,3}\s*[.,]?\s*$")
# Sentences that address a language model rather than a reader: not facts to quote.
_INJECTION = re.compile(
    r"\b(ignore|disregard|forget)\b.{0,30}\b(instructions?|prompts?|rules)\b"
    r"|\byou are now\b|\bdeveloper mode\b|\bsystem prompt\b|^\s*system\s*:"
    r"|\banswer only\b|\bcite nothing\b|\bdo not cite\b",
    re.IGNORECASE)


def candidates(hits: list[Hit]) -> list[Candidate]:
    """Every sentence of the retrieved chunks once (overlapping chunks share sentences),
    leaving out bylines, fragments and sentences written to steer a language model."""
    seen: set[tuple[str, int]] = set()
    out = []
    for hit in hits:
        for s, e in hit.sentence_spans():
            key = (hit.article_id, hit.start + s)
            sentence = hit.text[s:e]
            if (key in seen or len(sentence) < 12 or len(sentence.split()) < 3
                    or _BYLINE.match(sentence) or _INJECTION.search(sentence)):
                continue
            seen.add(key)
            out.append(Candidate(hit, hit.start + s, hit.start + e, sentence))
    return out
