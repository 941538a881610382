"""The library as the web app shows it: one page of articles at a time, searched on the
server, so that a page load and a reply stay small whatever the library holds.

The registry is read whole only when the store has changed since the last read (its
generation), newest first; a page, a search, the count and the newest stories are then
answered from that one list.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from assistant.index.records import ArticleRecord
from assistant.index.store import Store

PAGE_SIZE = 20


@dataclass(frozen=True, kw_only=True)
class LibraryPage:
    records: list[ArticleRecord]
    matching: int  # articles that match the search (all of them without one)
    total: int  # articles in the library
    page: int  # 1-based, within 1..pages
    pages: int
    query: str

    @property
    def first(self) -> int:
        """The 1-based position of the page's first record among the matching ones."""
        return (self.page - 1) * PAGE_SIZE + 1 if self.records else 0


class Library:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._read: tuple[str, list[ArticleRecord]] | None = None

    def records(self) -> list[ArticleRecord]:
        """Every article, newest first (undated last), read again only after a change."""
        generation = self.store.generation()
        with self._lock:
            if self._read is None or self._read[0] != generation:
                every = sorted(self.store.articles(), key=lambda r: r.id)
                every.sort(key=lambda r: r.date or "", reverse=True)
                self._read = (generation, every)
            return self._read[1]

    def count(self) -> int:
        return len(self.records())

    def page(self, query: str = "", page: int = 1) -> LibraryPage:
        """One page of the articles whose title, outlet, date or id holds every word of
        ``query`` (any case)."""
        every = self.records()
        words = query.lower().split()
        matching = every if not words else [r for r in every if _matches(r, words)]
        pages = max(1, -(-len(matching) // PAGE_SIZE))
        page = min(max(1, page), pages)
        start = (page - 1) * PAGE_SIZE
        return LibraryPage(records=matching[start : start + PAGE_SIZE],
                           matching=len(matching), total=len(every), page=page, pages=pages,
                           query=query.strip())


def _matches(record: ArticleRecord, words: list[str]) -> bool:
    hay = " ".join(x for x in (record.title, record.source, record.date, record.id) if x).lower()
    return all(w in hay for w in words)
