"""The openai answerer: numbered sources in delimiters, a model that cites them, and our own
check of every citation afterwards (``citations.cite``)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ..embedding import Embedder
from ..llm import ChatModel
from ..news import Reported, find_conflicts
from ..prompts import render
from ..store import Hit
from .citations import cite
from .model import Answer, Conflict

_ABSTAIN = re.compile(
    r"\A\W*(the )?(articles?|sources?) (do not|don't|does not|doesn't) (say|answer|mention)",
    re.IGNORECASE,
)
ABSTAIN_TEXT = "The articles don't say."


def _attr(value: str | None) -> str:
    return (value or "unknown").replace('"', "'").replace("\n", " ")


def sources_block(hits: list[Hit]) -> str:
    blocks = []
    for n, hit in enumerate(hits, start=1):
        # An article cannot close our delimiter early: its own tags are neutralised.
        text = re.sub(r"</?\s*(source|sources)\b", lambda m: m.group(0).replace("<", "‹"),
                      hit.text, flags=re.IGNORECASE)
        blocks.append(render("source", n=n, outlet=_attr(hit.source), date=_attr(hit.date),
                             title=_attr(hit.title), text=text))
    return "\n".join(blocks)


class GenerativeAnswerer:
    mode = "openai"

    def __init__(self, chat: ChatModel, embedder: Embedder) -> None:
        self.chat = chat
        self.embedder = embedder

    def messages(self, question: str, hits: list[Hit]) -> list[tuple[str, str]]:
        return [
            ("system", render("answer_system")),
            ("user", render("answer_user", sources=sources_block(hits), question=question)),
        ]

    def stream(self, question: str, hits: list[Hit]) -> Iterator[str]:
        """The model's raw text as it arrives (markers still source numbers)."""
        if not hits:
            yield ABSTAIN_TEXT
            return
        yield from self.chat.stream(self.messages(question, hits))

    def finish(self, question: str, hits: list[Hit], raw: str) -> Answer:
        """Verified citations for a complete raw answer."""
        text = raw.strip()
        if not hits or not text or _ABSTAIN.match(text):
            return Answer(question=question, answer=ABSTAIN_TEXT, abstained=True,
                          mode=self.mode, retrieved=hits)
        answer_text, citations, notes = cite(text, hits, self.embedder)
        if not citations:
            notes.append("the model cited no source; its answer is shown unverified")
        vectors = self.embedder.embed([c.quote for c in citations])
        reported = [Reported(c.quote, c.article_id, c.source, c.n, v)
                    for c, v in zip(citations, vectors, strict=True)]
        conflicts = [Conflict(topic, claims) for topic, claims in find_conflicts(reported)]
        return Answer(question=question, answer=answer_text, abstained=False, mode=self.mode,
                      citations=citations, retrieved=hits, notes=notes, conflicts=conflicts)

    def answer(self, question: str, hits: list[Hit], **_: Any) -> Answer:
        return self.finish(question, hits, "".join(self.stream(question, hits)))
