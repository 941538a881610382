"""A store whose answers a test states: what the reader asks of the index beyond the
retrieved passages (``assistant.answer.naming.Corpus``), without building one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True, kw_only=True)
class StatedCorpus:
    names: bool = False  # whether an article's other passages hold the words asked about
    counts: Mapping[str, int] = field(default_factory=dict)  # chunks holding each word
    other_words: int = 0  # chunks holding a word not in ``counts``
    chunks: int = 1000
    days: bool = False  # whether any report is dated in a window asked about

    def article_holds(self, article_id: str, words: Sequence[str]) -> bool:
        return self.names

    def document_frequency(self, words: Sequence[str]) -> tuple[dict[str, int], int]:
        return {w: self.counts.get(w, self.other_words) for w in words}, self.chunks

    def holds_days(self, first: str, last: str) -> bool:
        return self.days
