"""The side index beside the store, updated in place: SQLite FTS5 (BM25 over chunk text,
title and outlet) and append-only files of chunk vectors and their dates, read
memory-mapped. The only module that talks to sqlite3.

Why: the bm25s index it replaces was rebuilt whole from the store after every write, and
every process held every chunk's text and vector in memory (issue 13). Here a write costs
what it adds: the writing process hands ``follow`` exactly the chunks it wrote and removed,
applied in one transaction. Texts stay on disk and are read for the hits only; a query's
cost does not grow with the store either (``search``: candidates from the rarest words,
document frequencies kept in a table).

Why a vector file: Chroma's HNSW answers unfiltered queries in milliseconds, but with a
metadata filter a query over 100k chunks took 80-470 ms; an exact scan of just the rows a
filter accepts takes milliseconds (a date filter reads which rows from the day column, an
outlet filter from SQLite's index). Rows are appended and never moved; a removed chunk's row
stays in the files unused until ``rebuild``.

Consistency: the index records the store generation it reflects. Any process that finds
another generation in the store (the CLI ingested while the web app ran; a replica wrote to
the Chroma server; an ingest was killed) brings the index up to date by comparing chunk
ids with the store (``sync``), under a file lock, so readers always see a whole article or
none of it.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .errors import StoreError
from .filters import Filters
from .store import ArticleRecord, Hit, RegistryChange
from .text import stem_words, stems

# Lucene's classic English stop set (bm25s's default): BM25 is what tells common words apart,
# so only these are dropped; the answerer's longer list would drop "who" and "first".
_STOP = frozenset("a an and are as at be but by for if in into is it no not of on or such "
                  "that the their then there these they this to was will with".split())
_TOKEN = re.compile(r"(?u)\b\w\w+\b")
_IN_BATCH = 500  # ids per "IN (...)": under SQLite's 999 host parameters of older builds


def _in_batches(ids: Sequence[str]) -> Iterator[tuple[list[str], str]]:
    """``ids`` in parts small enough for one ``IN (...)``, each with its placeholders."""
    for i in range(0, len(ids), _IN_BATCH):
        part = list(ids[i : i + _IN_BATCH])
        yield part, ",".join("?" * len(part))


def terms(text: str) -> list[str]:
    """What BM25 matches on: words of two letters or more, lower-cased, without stop words,
    Snowball-stemmed (the tokenisation the retrieval weights were tuned with)."""
    words = [w for w in _TOKEN.findall(text.lower()) if w not in _STOP]
    return stem_words(words)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (
    row INTEGER PRIMARY KEY, chunk_id TEXT NOT NULL UNIQUE, article_id TEXT NOT NULL,
    day INTEGER NOT NULL, source TEXT, date TEXT, title TEXT, url TEXT,
    start INTEGER NOT NULL, end_ INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_day ON chunks (day);
CREATE INDEX IF NOT EXISTS chunks_source ON chunks (source);
CREATE INDEX IF NOT EXISTS chunks_article ON chunks (article_id);
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(
    terms, text UNINDEXED, tokenize = 'unicode61 remove_diacritics 2');
-- Each term's document frequency, kept by every write: fts5vocab counts it by walking the
-- term's whole posting list, which grew with the store (5 ms a question at 100k chunks).
CREATE TABLE IF NOT EXISTS df (term TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
-- Which version of each article readers may see and what it re-publishes, as the registry
-- had them at the generation in meta 'articles_at' (``visibility``).
CREATE TABLE IF NOT EXISTS articles (
    article_id TEXT PRIMARY KEY, version TEXT NOT NULL, duplicate_of TEXT) WITHOUT ROWID;
"""
# Up to this share of the store (1/4), a filtered scan copies the rows it keeps; past it, it
# scores every row and keeps the filter's.
_GATHER_SHARE = 4
# Okapi BM25 as Lucene (and bm25s, which the retrieval weights were tuned with) computes it.
# FTS5's built-in bm25() fixes k1 at 1.2 and uses an IDF that falls to zero for common
# words; measured on the dev sets, ranking its candidates again this way kept retrieval as
# it was (docs/tuning.md).
K1, B = 1.5, 0.75
LAYOUT = "fts5-snowball-lucene-4"  # changes when the tables change: an old index is rebuilt
CANDIDATES = 10  # times the asked-for number of chunks, taken from FTS5's own ranking
MATCH_BUDGET = 4000  # rows the candidate words may match in all (``_selective``)
_MMAP_BYTES = 1 << 30  # of the database read memory-mapped (the rest through read())


class ChunkSource(Protocol):
    """What the index needs of the store (``store.Store``)."""

    def generation(self) -> str: ...

    def chunk_ids(self) -> set[str]: ...

    def chunks_by_id(self, ids: Sequence[str]
                     ) -> Iterator[tuple[str, str, dict[str, Any], np.ndarray]]: ...

    def articles(self) -> list[ArticleRecord]: ...


class LexicalIndex:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._local = threading.local()
        self._lock = threading.Lock()
        self._vectors: np.ndarray | None = None
        self._days: np.ndarray | None = None
        self._counted: tuple[str | None, int] | None = None
        self._outlets: tuple[str | None, list[str]] | None = None

    # -- storage -----------------------------------------------------------------------
    def _db(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.folder / "lexical.sqlite3", timeout=60,
                                 isolation_level=None, check_same_thread=True)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            # Reads through a memory map rather than read() into SQLite's page cache: at 100k
            # chunks a question's BM25 search, embedding and vector scan together went from
            # a p95 of 32-37 to 29-31 ms (docs/tuning.md).
            db.execute(f"PRAGMA mmap_size={_MMAP_BYTES}")
            db.executescript(_SCHEMA)
            layout = db.execute("SELECT value FROM meta WHERE key = 'layout'").fetchone()
            if layout is None or layout[0] != LAYOUT:
                # New, or an index of an earlier layout: start it again (sync refills it).
                db.executescript("DROP TABLE IF EXISTS vocab; DROP TABLE IF EXISTS df; "
                                 "DROP TABLE IF EXISTS fts; "
                                 "DROP TABLE IF EXISTS chunks; DROP TABLE IF EXISTS meta;"
                                 "DROP TABLE IF EXISTS articles;"
                                 + _SCHEMA)
                (self.folder / "vectors.f32").unlink(missing_ok=True)
                (self.folder / "days.i32").unlink(missing_ok=True)
                db.execute("INSERT INTO meta VALUES ('layout', ?)", (LAYOUT,))
            self._local.db = db
        return db

    def _meta(self, key: str) -> str | None:
        row = self._db().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    @property
    def generation(self) -> str | None:
        return self._meta("generation")


    @property
    def _vector_file(self) -> Path:
        return self.folder / "vectors.f32"

    @property
    def _day_file(self) -> Path:
        return self.folder / "days.i32"

    def vectors(self) -> np.ndarray:
        """Every row ever appended, memory-mapped (re-mapped when the file has grown)."""
        dim = int(self._meta("dim") or 0)
        path = self._vector_file
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
        path = self._day_file
        rows = path.stat().st_size // 4 if path.exists() else 0
        current = self._days
        if current is None or len(current) != rows:
            current = np.memmap(path, dtype=np.int32, mode="r", shape=(rows,)) \
                if rows else np.zeros(0, dtype=np.int32)
            self._days = current
        return current

    # -- writing -----------------------------------------------------------------------
    def sync(self, store: ChunkSource, generation: str | None = None) -> tuple[int, int]:
        """Brings the index to the store's generation by adding the chunks it lacks and
        removing those the store no longer has (the catch-up of a process that did not make
        the write itself), and its copy of the registry's visibility with it. Returns
        (added, removed)."""
        wanted = store.generation() if generation is None else generation
        with self._translated():
            if self.generation == wanted and self._meta("articles_at") == wanted:
                return 0, 0
            with self._locked():
                if self.generation == wanted:  # the chunks are current, the copy is not
                    self._refresh_articles(store, wanted)
                    return 0, 0
                return self._catch_up(store)

    def follow(self, store: ChunkSource, rows: Sequence[tuple[str, str, dict[str, Any],
                                                          np.ndarray]],
               gone: Sequence[str], before: str, after: str,
               change: RegistryChange | None = None) -> None:
        """Applies a write this process just made to the store (``rows`` added, ``gone``
        removed, ``change`` in the registry, the store's generation moved from ``before``
        to ``after``): the cost is that of the write. When the index was not at ``before``
        (another process wrote in between), it catches up by comparison instead."""
        with self._translated(), self._locked():
            if self.generation != before:
                self._catch_up(store)
                return
            exact = change is not None and not change.after_crash \
                and self._meta("articles_at") == before
            self._apply(rows, gone, after, change if exact else None)
            if change is not None and change.after_crash:
                # A killed write changed the registry in ways nobody was told of.
                self._refresh_articles(store, after)

    def visibility(self, article_ids: Sequence[str], generation: str
                   ) -> dict[str, tuple[str, str | None]] | None:
        """For these articles, the version readers may see and the article it re-publishes
        (absent: not committed), as the registry has them at ``generation``; None when this
        copy is not known to be that generation's (then ask the store). A question then
        makes no request to Chroma for them: at 100k chunks that read was 6-13 ms."""
        with self._translated():
            if self._meta("articles_at") != generation:
                return None
            ids = list(dict.fromkeys(article_ids))
            out: dict[str, tuple[str, str | None]] = {}
            for part, marks in _in_batches(ids):
                for aid, version, original in self._db().execute(
                        "SELECT article_id, version, duplicate_of FROM articles WHERE "
                        f"article_id IN ({marks})", part):
                    out[aid] = (version, original or None)
            return out

    def _refresh_articles(self, store: ChunkSource, generation: str) -> None:
        """The registry's visibility read whole (after a catch-up or a killed write: the
        changes are unknown), in one transaction."""
        records = [(r.id, r.hash[:12], r.duplicate_of) for r in store.articles()]
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("DELETE FROM articles")
            db.executemany("INSERT INTO articles VALUES (?, ?, ?)", records)
            db.execute("INSERT OR REPLACE INTO meta VALUES ('articles_at', ?)", (generation,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    @contextmanager
    def _translated(self) -> Iterator[None]:
        """OS and SQLite errors (a full disk, a folder without write permission, a locked
        or damaged database) as our ``StoreError``, naming the index's folder."""
        try:
            yield
        except (OSError, sqlite3.Error) as e:
            raise StoreError(f"the side index in {self.folder} cannot be written or read: "
                             f"{e}") from e

    def _locked(self) -> Any:
        from contextlib import ExitStack

        from filelock import FileLock

        self.folder.mkdir(parents=True, exist_ok=True)
        stack = ExitStack()
        stack.enter_context(self._lock)
        stack.enter_context(FileLock(str(self.folder / "write.lock"), timeout=600))
        return stack

    def _catch_up(self, store: ChunkSource) -> tuple[int, int]:
        wanted = store.generation()  # another writer may have moved it meanwhile
        if self.generation == wanted:
            return 0, 0
        db = self._db()
        have = {cid for (cid,) in db.execute("SELECT chunk_id FROM chunks")}
        stored = store.chunk_ids()
        gone = sorted(have - stored)
        new = sorted(stored - have)
        self._apply(store.chunks_by_id(new) if new else iter(()), gone, wanted)
        self._refresh_articles(store, wanted)
        return len(new), len(gone)

    def _apply(self, rows: Iterable[tuple[str, str, dict[str, Any], np.ndarray]],
               gone: Sequence[str], generation: str,
               change: RegistryChange | None = None) -> None:
        db = self._db()
        added: list[tuple[str, str, dict[str, Any], np.ndarray]] = list(rows)
        dim = int(self._meta("dim") or 0)
        if added and not dim:
            dim = int(added[0][3].shape[0])
        start_row = self._vector_file.stat().st_size // (4 * dim) \
            if dim and self._vector_file.exists() else 0
        if added:
            # Files first: rows past the last committed one are ignored, so a crash here
            # leaves only unused bytes behind. Both files are cut (or padded) to whole rows
            # first, so a write cut short by a crash cannot shift the rows after it.
            block = np.stack([v for *_, v in added]).astype(np.float32)
            days = np.array([int(meta.get("date_int") or 0) for _, _, meta, _ in added],
                            dtype=np.int32)
            with self._vector_file.open("ab") as f:
                f.truncate(start_row * 4 * dim)
                f.write(block.tobytes())
            self._days_up_to(start_row)
            with self._day_file.open("ab") as f:
                f.write(days.tobytes())
        db.execute("BEGIN IMMEDIATE")
        try:
            length = int(self._meta("terms") or 0)
            count = self.count()
            # Removed chunks, and chunk ids written again (the same content re-ingested
            # after a crash): the old rows and their text leave the tables.
            drop = [*gone, *(cid for cid, *_ in added)]
            df: Counter[str] = Counter()  # change of each term's document frequency
            for part, marks in _in_batches(drop):
                for (stored,) in db.execute(
                        f"SELECT terms FROM fts WHERE rowid IN (SELECT row FROM chunks WHERE "
                        f"chunk_id IN ({marks}))", part):
                    words = stored.split()
                    length -= len(words)
                    df.subtract(set(words))
                db.execute(f"DELETE FROM fts WHERE rowid IN (SELECT row FROM chunks WHERE "
                           f"chunk_id IN ({marks}))", part)
                count -= db.execute(f"DELETE FROM chunks WHERE chunk_id IN ({marks})",
                                    part).rowcount
            for offset, (cid, text, meta, _) in enumerate(added):
                row = start_row + offset
                db.execute("INSERT INTO chunks VALUES (?,?,?,?,?,?,?,?,?,?)", (
                    row, cid, str(meta.get("article_id", "")), int(meta.get("date_int") or 0),
                    meta.get("source") or None, meta.get("date") or None,
                    str(meta.get("title", "")), meta.get("url") or None,
                    int(meta.get("start", 0)), int(meta.get("end", 0))))
                # Title and outlet are matched as part of the chunk, as the embedder sees them.
                heading = f"title: {meta.get('title', '')}\nsource: {meta.get('source') or ''}"
                words = terms(f"{heading}\n\n{text}")
                length += len(words)
                df.update(set(words))
                db.execute("INSERT INTO fts (rowid, terms, text) VALUES (?,?,?)",
                           (row, " ".join(words), text))
            db.executemany("INSERT INTO df VALUES (?, ?) ON CONFLICT (term) DO UPDATE "
                           "SET n = n + excluded.n", [(t, n) for t, n in df.items() if n])
            if any(n < 0 for n in df.values()):
                db.execute("DELETE FROM df WHERE n <= 0")
            if dim:
                db.execute("INSERT OR REPLACE INTO meta VALUES ('dim', ?)", (str(dim),))
            db.execute("INSERT OR REPLACE INTO meta VALUES ('terms', ?)", (str(length),))
            db.execute("INSERT OR REPLACE INTO meta VALUES ('count', ?)",
                       (str(count + len(added)),))
            if change is not None:  # the copy of the registry moves with the chunks
                db.executemany("INSERT OR REPLACE INTO articles VALUES (?, ?, ?)",
                               change.committed)
                db.executemany("UPDATE articles SET duplicate_of = ? WHERE article_id = ?",
                               [(original, aid) for aid, original in change.recopied])
                db.executemany("DELETE FROM articles WHERE article_id = ?",
                               [(aid,) for aid in change.removed])
                db.execute("INSERT OR REPLACE INTO meta VALUES ('articles_at', ?)",
                           (generation,))
            db.execute("INSERT OR REPLACE INTO meta VALUES ('generation', ?)", (generation,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _days_up_to(self, rows: int) -> None:
        """The day column made exactly ``rows`` long: an index written before the column
        was gets it from the chunk table once; the rows of a crashed write are cut off or
        padded with 0 (no date), as their vectors are."""
        path = self._day_file
        have = path.stat().st_size // 4 if path.exists() else 0
        if have == 0 and rows:
            column = np.zeros(rows, dtype=np.int32)
            for row, day in self._db().execute("SELECT row, day FROM chunks WHERE row < ?",
                                               (rows,)):
                column[row] = day
            path.write_bytes(column.tobytes())
            return
        with path.open("ab") as f:  # appends go to the end, after the cut
            f.truncate(min(have, rows) * 4)
            if have < rows:
                f.write(np.zeros(rows - have, dtype=np.int32).tobytes())

    def clear(self) -> None:
        """An empty index (the next ``sync`` fills it): also drops unused vector rows."""
        with self._translated(), self._locked():
            self._db().executescript("BEGIN IMMEDIATE; DELETE FROM chunks; DELETE FROM fts; "
                                     "DELETE FROM df; DELETE FROM articles; "
                                     "DELETE FROM meta WHERE key != 'layout'; COMMIT;")
            self._vector_file.unlink(missing_ok=True)
            self._day_file.unlink(missing_ok=True)
            self._vectors = self._days = None

    def rebuild(self, store: ChunkSource) -> None:
        """Everything again from the store (``assistant reindex``)."""
        self.clear()
        self.sync(store)

    # -- reading -----------------------------------------------------------------------
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
            "c.source, c.url, f.text FROM chunks c JOIN fts f ON f.rowid = c.row "
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
        """Whether any chunk passes the filters (``retrieve.Filters``): one indexed row."""
        where, args = self._where(filters)
        return self._db().execute(f"SELECT 1 FROM chunks c WHERE 1{where} LIMIT 1",
                                  args).fetchone() is not None

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
            for part, marks in _in_batches(ids):
                out.update(self._db().execute(
                    "SELECT article_id, count(*) FROM chunks WHERE article_id IN "
                    f"({marks}) GROUP BY article_id", part))
        return out

    def rows(self) -> dict[str, tuple[int, int]]:
        """Each indexed chunk's row in the vector file and its day number: what an audit of
        the index compares with the store and the files."""
        return {cid: (int(row), int(day)) for cid, row, day in
                self._db().execute("SELECT chunk_id, row, day FROM chunks")}

    def term_counts(self) -> tuple[dict[str, int], dict[str, int]]:
        """The document frequency kept for each term, and the same counted afresh from the
        stored terms: they agree unless a write was lost."""
        counted: dict[str, int] = {}
        for (stored,) in self._db().execute("SELECT terms FROM fts"):
            for term in set(stored.split()):
                counted[term] = counted.get(term, 0) + 1
        return dict(self._db().execute("SELECT term, n FROM df")), counted

    def count(self) -> int:
        """Chunks in the index (kept in its metadata: a count(*) scans the whole table)."""
        kept = self._meta("count")
        if kept is not None:
            return int(kept)
        # An index written before the count was kept: count once per generation.
        generation = self.generation
        if self._counted is None or self._counted[0] != generation:
            n = int(self._db().execute("SELECT count(*) FROM chunks").fetchone()[0])
            self._counted = (generation, n)
        return self._counted[1]


def _date_bounds(filters: Filters | None) -> tuple[int, int] | None:
    return None if filters is None else filters.day_bounds()  # ``retrieve.Filters``


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
    chunk_id, article_id, start, end, title, date, source, url, text = row
    return Hit(chunk_id=chunk_id, article_id=article_id, text=text, start=int(start),
               end=int(end), score=score, title=title or "", date=date or None,
               source=source or None, url=url or None)
