"""What an answer is, for every surface (CLI, UI, eval): our own small dataclasses."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from assistant.index.records import Hit

WEAK_AT = 0.3  # a support score under this is no support at all
MARKER = re.compile(r"\[(\d+)\]")  # a citation marker in an answer's text: "[2]"


@dataclass(frozen=True)
class Citation:
    n: int
    article_id: str
    title: str
    date: str | None
    source: str | None
    quote: str  # == stored article text[start:end]
    start: int
    end: int
    supported: bool
    url: str | None = None
    support_score: float = 0.0
    # "supported", "weak" (some agreement, under the bar) or "unsupported"; derived from
    # ``supported`` and the score when the maker does not say.
    verdict: str = ""

    def __post_init__(self) -> None:
        if not self.verdict:
            verdict = ("supported" if self.supported
                       else "weak" if self.support_score >= WEAK_AT else "unsupported")
            object.__setattr__(self, "verdict", verdict)

    def to_json(self) -> dict[str, object]:
        # "verbatim": the quote is the article's own text at [start, end) — true by
        # construction, and checked again by the eval. "supported" and "support" say whether
        # it backs the sentence it is attached to (or, for a quoted answer, the question).
        return {"n": self.n, "article_id": self.article_id, "title": self.title,
                "date": self.date, "source": self.source, "quote": self.quote,
                "start": self.start, "end": self.end, "supported": self.supported,
                "verbatim": True,
                "support": {"score": round(self.support_score, 3), "verdict": self.verdict}}


@dataclass(frozen=True)
class Conflict:
    topic: str
    claims: list[tuple[str, list[int]]]  # (claim text, citation numbers)

    def to_json(self) -> dict[str, object]:
        return {"topic": self.topic,
                "claims": [{"text": t, "citations": c} for t, c in self.claims]}


@dataclass(frozen=True, kw_only=True)
class Answer:
    question: str
    answer: str
    abstained: bool
    mode: str
    citations: list[Citation] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    retrieved: list[Hit] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    standalone_question: str | None = None
    copies: dict[str, list[str]] = field(default_factory=dict)  # article id -> re-publications
    # The extractive answerer's score for the sentence it leads with (abstained or not): the
    # fitted probability that the question is answered (answer/combination.py); None for
    # answerers that have no such score.
    confidence: float | None = None
    # Sentences of a model's answer that were not shown because no quote supports them,
    # as (sentence, reason); and what answered instead when none was left ("extractive").
    left_out: list[tuple[str, str]] = field(default_factory=list)
    fallback: str | None = None

    def to_json(self) -> dict[str, object]:
        data: dict[str, Any] = {
            "question": self.question,
            "answer": self.answer,
            "abstained": self.abstained,
            "mode": self.mode,
            "citations": [c.to_json() for c in self.citations],
            "conflicts": [c.to_json() for c in self.conflicts],
            "retrieved": [{"article_id": h.article_id, "chunk_id": h.chunk_id,
                           "score": round(h.score, 6)} for h in self.retrieved],
            "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
            "notes": list(self.notes),
        }
        if self.standalone_question and self.standalone_question != self.question:
            data["standalone_question"] = self.standalone_question
        if self.copies:
            data["copies"] = self.copies
        if self.left_out:
            data["left_out"] = [{"text": t, "reason": r} for t, r in self.left_out]
        if self.fallback:
            data["fallback"] = self.fallback
        if self.confidence is not None:
            data["confidence"] = round(self.confidence, 3)
        return data

