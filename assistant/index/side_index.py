"""The side index beside the store, updated in place: SQLite FTS5 (BM25 over chunk text,
title and outlet) and append-only files of chunk vectors and their dates, read
memory-mapped. With its reading half (``side_search``), the only module that talks to sqlite3.

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

import sqlite3
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from assistant.errors import StoreError
from assistant.index.records import ArticleRecord, ChunkRow, RegistryChange
from assistant.index.side_search import Searching, in_batches, terms

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (
    row INTEGER PRIMARY KEY, chunk_id TEXT NOT NULL UNIQUE, article_id TEXT NOT NULL,
    day INTEGER NOT NULL, source TEXT, date TEXT, title TEXT, url TEXT,
    start INTEGER NOT NULL, end_ INTEGER NOT NULL, sentences TEXT NOT NULL);
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


LAYOUT = "fts5-snowball-lucene-5"  # changes when the tables change: an old index is rebuilt
_MMAP_BYTES = 1 << 30  # of the database read memory-mapped (the rest through read())


class ChunkSource(Protocol):
    """What the index needs of the store (``store.Store``)."""

    def generation(self) -> str: ...

    def chunk_ids(self) -> set[str]: ...

    def chunks_by_id(self, ids: Sequence[str]
                     ) -> Iterator[ChunkRow]: ...

    def articles(self) -> list[ArticleRecord]: ...


class SideIndex(Searching):
    """The side index in ``folder``: its database, its files and every write to them."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._local = threading.local()
        self._lock = threading.Lock()
        self._vectors: np.ndarray | None = None
        self._days: np.ndarray | None = None
        self._counted: tuple[str | None, int] | None = None
        self._outlets: tuple[str | None, list[str]] | None = None

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

    def follow(self, store: ChunkSource, rows: Sequence[ChunkRow],
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
            for part, marks in in_batches(ids):
                for aid, version, original in self._db().execute(
                        "SELECT article_id, version, duplicate_of FROM articles WHERE "
                        f"article_id IN ({marks})", part):
                    out[aid] = (version, original or None)
            return out

    def copied(self, article_ids: Sequence[str], generation: str) -> set[str] | None:
        """Which of these articles another article re-publishes, as the registry has them at
        ``generation``; None when this copy is not known to be that generation's."""
        with self._translated():
            if self._meta("articles_at") != generation:
                return None
            out: set[str] = set()
            for part, marks in in_batches(list(dict.fromkeys(article_ids))):
                out.update(original for (original,) in self._db().execute(
                    f"SELECT DISTINCT duplicate_of FROM articles WHERE duplicate_of IN ({marks})",
                    part))
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

    def _apply(self, rows: Iterable[ChunkRow],
               gone: Sequence[str], generation: str,
               change: RegistryChange | None = None) -> None:
        db = self._db()
        added: list[ChunkRow] = list(rows)
        dim = int(self._meta("dim") or 0)
        if added and not dim:
            dim = int(added[0][3].shape[0])
        start_row = self.vector_file.stat().st_size // (4 * dim) \
            if dim and self.vector_file.exists() else 0
        if added:
            # Files first: rows past the last committed one are ignored, so a crash here
            # leaves only unused bytes behind. Both files are cut (or padded) to whole rows
            # first, so a write cut short by a crash cannot shift the rows after it.
            block = np.stack([v for *_, v in added]).astype(np.float32)
            days = np.array([int(meta.get("date_int") or 0) for _, _, meta, _ in added],
                            dtype=np.int32)
            with self.vector_file.open("ab") as f:
                f.truncate(start_row * 4 * dim)
                f.write(block.tobytes())
            self._days_up_to(start_row)
            with self.day_file.open("ab") as f:
                f.write(days.tobytes())
        db.execute("BEGIN IMMEDIATE")
        try:
            length = int(self._meta("terms") or 0)
            count = self.count()
            # Removed chunks, and chunk ids written again (the same content re-ingested
            # after a crash): the old rows and their text leave the tables.
            drop = [*gone, *(cid for cid, *_ in added)]
            df: Counter[str] = Counter()  # change of each term's document frequency
            for part, marks in in_batches(drop):
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
                db.execute("INSERT INTO chunks VALUES (?,?,?,?,?,?,?,?,?,?,?)", (
                    row, cid, str(meta.get("article_id", "")), int(meta.get("date_int") or 0),
                    meta.get("source") or None, meta.get("date") or None,
                    str(meta.get("title", "")), meta.get("url") or None,
                    int(meta.get("start", 0)), int(meta.get("end", 0)),
                    str(meta.get("sentences", ""))))
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
        path = self.day_file
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
            self.vector_file.unlink(missing_ok=True)
            self.day_file.unlink(missing_ok=True)
            self._vectors = self._days = None

    def rebuild(self, store: ChunkSource) -> None:
        """Everything again from the store (``assistant reindex``)."""
        self.clear()
        self.sync(store)

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
