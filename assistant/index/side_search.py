"""Reading the side index: BM25 over chunk text, title and outlet (FTS5 candidates ranked
again by Lucene's BM25), an exact scan of the vector file for the rows a filter accepts, and
the small lookups the reader makes (which article holds a word, how common a word is).

``Searching`` is the reading half of ``side_index.SideIndex``, which owns the database, the
files and every write."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import numpy as np

from assistant.index.filters import Filters
from assistant.index.records import Hit, decode_spans
from assistant.text import stem_words, stems

# Lucene's classic English stop set (bm25s's default): BM25 is what tells common words apart,
# so only these are dropped; the answerer's longer list would drop "who" and "first".
_STOP = frozenset("a an and are as at be but by for if in into is it no not of on or such "
                  "that the their then there these they this to was will with".split())


_TOKEN = re.compile(r"(?u)\b\w\w+\b")


def terms(text: str) -> list[str]:
    """What BM25 matches on: words of two letters or more, lower-cased, without stop words,
    Snowball-stemmed (the tokenisation the retrieval weights were tuned with)."""
    words = [w for w in _TOKEN.findall(text.lower()) if w not in _STOP]
    return stem_words(words)


# Up to this share of the store (1/4), a filtered scan copies the rows it keeps; past it, it
# scores every row and keeps the filter's.
_GATHER_SHARE = 4
CANDIDATES = 10  # times the asked-for number of chunks, taken from FTS5's own ranking
MATCH_BUDGET = 4000  # rows the candidate words may match in all (``_selective``)


def _date_bounds(filters: Filters | None) -> tuple[int, int] | None:
    return None if filters is None else filters.day_bounds()  # ``filters.Filters``


def _selective(words: Sequence[str], df: dict[str, int]) -> list[str]:
    """The query's rarest words, rarest first, while the rows they match stay within
    ``MATCH_BUDGET`` (at least the two rarest: with the rarest alone, essays lost; see
    docs/tuning.md): a word that many chunks hold adds little to BM25 and most of the work,
    and a store's growth then costs a query nothing."""
    chosen: list[str] = []
    matched = 0
    for word in sorted(words, key=lambda w: df[w]):
        if len(chosen) >= 2 and matched + df[word] > MATCH_BUDGET:
            break
        chosen.append(word)
        matched += df[word]
    return chosen


def _hit(row: Sequence[Any], score: float) -> Hit:
    chunk_id, article_id, start, end, title, date, source, url, sentences, text = row
    return Hit(chunk_id=chunk_id, article_id=article_id, text=text, start=int(start),
               end=int(end), score=score, title=title or "", date=date or None,
               source=source or None, url=url or None, sentences=decode_spans(sentences))


# Okapi BM25 as Lucene (and bm25s, which the retrieval weights were tuned with) computes it.
# FTS5's built-in bm25() fixes k1 at 1.2 and uses an IDF that falls to zero for common
# words; measured on the dev sets, ranking its candidates again this way kept retrieval as
# it was (docs/tuning.md).
K1, B = 1.5, 0.75
_IN_BATCH = 500  # ids per "IN (...)": under SQLite's 999 host parameters of older builds


def in_batches(ids: Sequence[str]) -> Iterator[tuple[list[str], str]]:
    """``ids`` in parts small enough for one ``IN (...)``, each with its placeholders."""
    for i in range(0, len(ids), _IN_BATCH):
        part = list(ids[i : i + _IN_BATCH])
        yield part, ",".join("?" * len(part))


class Searching:
    """The queries of ``SideIndex`` (its database, files and caches are declared here for
    the type checker and made by ``SideIndex.__init__``)."""

    folder: Path
    _vectors: np.ndarray | None
    _days: np.ndarray | None
    _outlets: tuple[str | None, list[str]] | None

    def _db(self) -> sqlite3.Connection:
        raise NotImplementedError

    def _meta(self, key: str) -> str | None:
        raise NotImplementedError

    def _translated(self) -> AbstractContextManager[None]:
        raise NotImplementedError

    @property
    def generation(self) -> str | None:
        raise NotImplementedError

    def count(self) -> int:
        raise NotImplementedError

    @property
    def vector_file(self) -> Path:
        """Chunk vectors as float32 rows, appended in the order chunks were written."""
        return self.folder / "vectors.f32"

    @property
    def day_file(self) -> Path:
        """Each vector row's date as an int32 YYYYMMDD, row for row with ``vector_file``."""
        return self.folder / "days.i32"

    def vectors(self) -> np.ndarray:
        """Every row ever appended, memory-mapped (re-mapped when the file has grown)."""
        dim = int(self._meta("dim") or 0)
        path = self.vector_file
        if not dim or not path.exists():
            return np.zeros((0, max(dim, 1)), dtype=np.float32)
        rows = path.stat().st_size // (4 * dim)
        current = self._vectors
        if current is None or current.shape != (rows, dim):
            current = np.memmap(path, dtype=np.float32, mode="r", shape=(rows, dim)) \
                if rows else np.zeros((0, dim), dtype=np.float32)
            self._vectors = current
        return current

    def days(self) -> np.ndarray:
        """Each vector row's date as YYYYMMDD (0: none), memory-mapped beside the vectors:
        a date filter is then one comparison over the column, where reading the rows it
        keeps from SQLite cost 8-10 ms for half of 100k chunks. Shorter than the vectors
        only in an index written before the column was (``dense`` then asks SQLite)."""
        path = self.day_file
        rows = path.stat().st_size // 4 if path.exists() else 0
        current = self._days
        if current is None or len(current) != rows:
            current = np.memmap(path, dtype=np.int32, mode="r", shape=(rows,)) \
                if rows else np.zeros(0, dtype=np.int32)
            self._days = current
        return current

    def _where(self, filters: Filters | None) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        args: list[Any] = []
        bounds = _date_bounds(filters)
        if bounds is not None:
            clauses.append("c.day BETWEEN ? AND ?")
            args += list(bounds)
        outlets = self._outlets_named(filters)
        if outlets is not None:
            clauses.append(f"c.source IN ({','.join('?' * len(outlets))})" if outlets
                           else "0")
            args += outlets
        return (" AND " + " AND ".join(clauses) if clauses else ""), args

    def _outlets_named(self, filters: Filters | None) -> list[str] | None:
        """The outlets the filter names (``Filters.names_outlet``: by part of their name),
        matched exactly so that the source index is used: a LIKE on every row cost 60-80 ms
        at 100k chunks. None when it narrows nothing (no outlet named, or every one)."""
        if filters is None or not filters.sources:
            return None
        outlets = self.sources()
        named = [o for o in outlets if filters.names_outlet(o)]
        return None if len(named) == len(outlets) else named

    def search(self, query: str, n: int, filters: Filters | None = None,
               candidates: int = CANDIDATES) -> list[Hit]:
        """The n chunks BM25 ranks best for the query's content words.

        Candidates are the ``candidates`` × n chunks FTS5's own ranking puts first among
        those holding one of the query's most selective words (``_selective``): FTS5 scores
        every row that matches, and with all the query's words a common one matches most
        of the store, so a query's cost grew with the store. The candidates are then ranked
        by Lucene's BM25 over all the query's words, common ones included."""
        wanted = list(dict.fromkeys(t.replace('"', "") for t in terms(query)))
        if not wanted or self.generation is None:
            return []
        db = self._db()
        marks = ",".join("?" * len(wanted))
        df = dict(db.execute(f"SELECT term, n FROM df WHERE term IN ({marks})", wanted))
        present = [t for t in wanted if df.get(t)]
        if not present:
            return []
        total = max(1, self.count())
        selective = _selective(present, df)
        match = " OR ".join(f'"{t}"' for t in selective)
        where, args = self._where(filters)
        joined = " JOIN chunks c ON c.row = f.rowid" if where else ""
        chosen = [r for (r,) in db.execute(
            f"SELECT f.rowid FROM fts f{joined} WHERE fts MATCH ?{where} "
            "ORDER BY bm25(fts) LIMIT ?", [f"terms : ({match})", *args, n * candidates])]
        if not chosen:
            return []
        avgdl = max(1.0, float(self._meta("terms") or 0) / total)
        needles = [(f" {t} ", float(np.log(1 + (total - df[t] + 0.5) / (df[t] + 0.5))))
                   for t in present]
        scored = []
        for row, stored in db.execute(
                f"SELECT rowid, terms FROM fts WHERE rowid IN ({','.join('?' * len(chosen))})",
                chosen):
            # Term counts by substring search over the space-separated terms (each term
            # between two spaces once the separators are doubled): C speed, no token list.
            padded = f" {stored.replace(' ', '  ')} "
            norm = K1 * (1 - B + B * (stored.count(" ") + 1) / avgdl)
            score = 0.0
            for needle, w in needles:
                c = padded.count(needle)
                if c:
                    score += w * c * (K1 + 1) / (c + norm)
            if score > 0:
                scored.append((score, row))
        scored.sort(key=lambda x: (-x[0], x[1]))
        best = scored[:n]
        if not best:
            return []
        found = self._rows([r for _, r in best])
        return [_hit(found[r], float(score)) for score, r in best if r in found]

    def dense(self, query_vector: np.ndarray, n: int, filters: Filters | None) -> list[Hit] | None:
        """Exact nearest chunks among those the filters accept, or among all chunks when
        no filter is active (None: no vectors here)."""
        vectors = self.vectors()
        if not len(vectors):
            return None
        query = query_vector.astype(np.float32)
        bounds = _date_bounds(filters)
        outlets = self._outlets_named(filters)
        if bounds is None and outlets is None:
            return self._nearest(vectors @ query, None, n)
        days = self.days()
        if outlets is None and bounds is not None and len(days) >= len(vectors):
            # Dates only: the day column says which rows (removed ones among them: their
            # hits are read from SQLite, which no longer has them).
            column = days[: len(vectors)]
            rows = np.flatnonzero((column >= bounds[0]) & (column <= bounds[1]))
        else:
            # One string from SQLite parsed by numpy: a filter that keeps 50k rows costs 8 ms
            # this way against 38 ms for a Python loop over the cursor.
            where, args = self._where(filters)
            (joined,) = self._db().execute(
                f"SELECT group_concat(c.row) FROM chunks c WHERE 1{where}", args).fetchone()
            rows = np.fromstring(joined or "", dtype=np.int64, sep=",")
            rows = rows[rows < len(vectors)]
        if not len(rows):
            return []
        if len(rows) * _GATHER_SHARE < len(vectors):
            return self._nearest(vectors[rows] @ query, rows, n)
        # A broad filter: one pass over the whole file beats copying the rows it keeps
        # (17 against 65 ms for half of 100k rows, measured).
        return self._nearest((vectors @ query)[rows], rows, n)

    def _nearest(self, scores: np.ndarray, rows: np.ndarray | None, n: int) -> list[Hit]:
        """The n best-scoring chunks that are still in the index. ``rows`` maps scores to
        file rows (None: the scores are of every row); a removed chunk's row stays in the
        file, so the best are read until n live ones are found."""
        want = n + 8
        while True:
            m = min(want, len(scores))
            top = np.argpartition(-scores, m - 1)[:m] if m < len(scores) else \
                np.arange(len(scores))
            top = top[np.argsort(-scores[top], kind="stable")]
            chosen = [int(rows[i]) if rows is not None else int(i) for i in top]
            found = self._rows(chosen)
            hits = [_hit(found[r], float(s)) for r, s in zip(chosen, scores[top], strict=True)
                    if r in found]
            if len(hits) >= n or m == len(scores):
                return hits[:n]
            want *= 4

    def _rows(self, rows: Sequence[int]) -> dict[int, tuple[Any, ...]]:
        """What a hit is made of, for these index rows (a removed chunk's row is absent)."""
        return {r[0]: r[1:] for r in self._db().execute(
            "SELECT c.row, c.chunk_id, c.article_id, c.start, c.end_, c.title, c.date, "
            "c.source, c.url, c.sentences, f.text FROM chunks c JOIN fts f ON f.rowid = c.row "
            f"WHERE c.row IN ({','.join('?' * len(rows))})", list(rows))}

    def article_holds(self, article_id: str, words: Sequence[str]) -> bool:
        """Whether any chunk of the article (its text, title or outlet) holds one of the
        words, as BM25 reads them (their stems). Reads that article's rows once, so the
        cost is the article's size, not the store's or the words' frequency."""
        wanted = [stemmed for w in words if (stemmed := terms(w))]
        if not wanted:
            return False
        with self._translated():
            stored = [set(t.split()) for (t,) in self._db().execute(
                "SELECT f.terms FROM chunks c JOIN fts f ON f.rowid = c.row "
                "WHERE c.article_id = ?", (article_id,))]
        return any(set(w) <= chunk for w in wanted for chunk in stored)

    def holds(self, filters: Filters | None) -> bool:
        """Whether any chunk passes the filters (``filters.Filters``): one indexed row."""
        where, args = self._where(filters)
        return self._db().execute(f"SELECT 1 FROM chunks c WHERE 1{where} LIMIT 1",
                                  args).fetchone() is not None

    def holds_days(self, first: str, last: str) -> bool:
        """Whether any chunk is dated from ``first`` to ``last`` (ISO days)."""
        return self.holds(Filters(since=first, until=last))

    def document_frequency(self, words: Sequence[str]) -> tuple[dict[str, int], int]:
        """In how many chunks each word occurs (by its stem; a stem of four letters or more
        also counts as a prefix: "cyber" is in "cyberdefense"), and the number of chunks."""
        db = self._db()
        total = self.count()
        out: dict[str, int] = {}
        for word in words:
            stem = "".join(stems(word)).replace('"', "")
            if not re.fullmatch(r"[\w']+", stem):
                out[word] = 0
                continue
            # The index's own count of rows holding the term (a MATCH would visit them all).
            found = db.execute("SELECT n FROM df WHERE term = ?", (stem,)).fetchone()
            count = int(found[0]) if found else 0
            if not count and len(stem) >= 4:  # only absent words pay for a prefix search
                count = int(db.execute("SELECT count(*) FROM fts WHERE fts MATCH ?",
                                       (f'terms : "{stem}"*',)).fetchone()[0])
            out[word] = count
        return out, total

    def sources(self) -> list[str]:
        """Every outlet the index holds (one indexed scan per generation of the index)."""
        generation = self.generation
        if self._outlets is None or self._outlets[0] != generation:
            self._outlets = (generation, [s for (s,) in self._db().execute(
                "SELECT DISTINCT source FROM chunks WHERE source IS NOT NULL ORDER BY source")])
        return list(self._outlets[1])

    def chunk_counts(self, article_ids: Sequence[str]) -> dict[str, int]:
        """How many chunks each of these articles has in the index (by its article index:
        well under a millisecond for a ranking's articles)."""
        ids = list(dict.fromkeys(article_ids))
        out: dict[str, int] = {}
        with self._translated():
            for part, marks in in_batches(ids):
                out.update(self._db().execute(
                    "SELECT article_id, count(*) FROM chunks WHERE article_id IN "
                    f"({marks}) GROUP BY article_id", part))
        return out
