"""discover → parse → diff by content hash → chunk → embed in batches → write → commit.

Articles stream through in batches, so memory stays flat in the number of articles. Each
article is committed (its registry record written) only after its chunks are stored: a run
killed at any point leaves no article half-visible, and the next run picks up where it stopped.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

import numpy as np

from assistant.config import Settings
from assistant.errors import ArticleError, AssistantError
from assistant.index.embedding import Embedder
from assistant.index.records import ArticleRecord, ChunkRow, RegistryChange, chunk_rows
from assistant.index.store import Store
from assistant.ingest.articles import Article
from assistant.ingest.chunking import Chunk, chunk_article
from assistant.ingest.copies import CopyCheck
from assistant.ingest.files import read_articles
from assistant.ingest.report import IngestReport, Progress, discover, estimate_articles

EMBED_BATCH_CHUNKS = 128
_log = logging.getLogger(__name__)


# The rows of the chunks a write added, the ids of the chunks it removed, the store
# generation before and after it, and its registry changes: what the side index needs to
# follow a write without comparing itself with the store.
OnWrite = Callable[[list[ChunkRow], list[str], str, str, RegistryChange], None]
# Articles to write, each with its chunks and whether it replaces a stored version.
Batch = list[tuple[Article, list[Chunk], bool]]
T = TypeVar("T")


LOOKUP_GROUP = 64  # articles whose registry records are read in one request


def ingest(
    paths: Sequence[str | Path],
    store: Store,
    embedder: Embedder,
    settings: Settings,
    prune: bool = False,
    progress: bool = False,
    find_duplicate: Callable[[Article], CopyCheck] | None = None,
    on_write: OnWrite | None = None,
    dry_run: bool = False,
) -> IngestReport:
    """``find_duplicate(article)``: whether it re-publishes a stored article (``ingest.copies``).
    ``on_write``: called after each committed batch (the side index follows it).

    The registry is read by key, a group of articles at a time, so the cost of a run is
    that of what it reads, not of what the store already holds (``--prune`` alone reads
    the records under the given paths)."""
    started = time.perf_counter()
    report = IngestReport()
    files = discover(paths, report)
    bar = Progress(estimate_articles(files), enabled=progress and not dry_run)
    seen_ids: dict[str, str] = {}
    scanned_paths: set[str] = set()
    noted: set[str] = set()
    pending: Batch = []
    pending_chunks = 0
    max_bytes = int(settings.max_file_mb * 1_000_000)

    writer = _Writer(store, report, bar, started, find_duplicate, on_write)

    def flush() -> None:
        nonlocal pending_chunks
        if not pending:
            return
        texts = [c.text for _, chunks, _ in pending for c in chunks]
        # The writer thread stores the previous batch while the model embeds this one.
        writer.submit(list(pending), embedder.embed(texts))
        pending.clear()
        pending_chunks = 0

    try:
        for group in _groups(stream_articles(files, max_bytes, report), LOOKUP_GROUP):
            known = store.records([article.id for _, article in group])
            for path, article in group:
                where = str(path.resolve())
                scanned_paths.add(where)
                if article.named_by_file and _name_taken(article, where, seen_ids, known):
                    # Two files of one name in two folders are two articles: the second
                    # one's id gets its folder's tag instead of replacing the first.
                    article = replace(article, id=f"{article.id}~{_folder_tag(path)}")
                    known.update(store.records([article.id]))
                if article.id in seen_ids:
                    first = seen_ids[article.id]
                    report.skipped.append({
                        "path": str(path),
                        "reason": f"duplicate id {article.id!r} (first seen in {first})",
                    })
                    continue
                seen_ids[article.id] = where
                if article.encoding != "utf-8" and str(path) not in noted:
                    noted.add(str(path))
                    report.notes.append(f"{path}: not valid UTF-8, read as {article.encoding}")
                old = known.get(article.id)
                if old is not None and old.hash == article.content_hash:
                    report.unchanged += 1
                    bar.update(1, 0.0)
                    continue
                if dry_run:
                    report.updated += old is not None
                    report.added += old is None
                    continue
                try:
                    chunks = chunk_article(article, embedder.count_tokens,
                                           settings.chunk_tokens,
                                           settings.chunk_overlap_sentences)
                except Exception as e:  # one article's text must not sink the batch
                    if isinstance(e, AssistantError) and not isinstance(e, ArticleError):
                        raise  # the model or the store failed: every file would fail alike
                    _log.info("chunking %s failed", path, exc_info=True)
                    report.skipped.append({"path": str(path), "reason": _failure(e)})
                    continue
                pending.append((article, chunks, old is not None))
                pending_chunks += len(chunks)
                if pending_chunks >= EMBED_BATCH_CHUNKS:
                    flush()
        flush()
    finally:
        writer.close()
        bar.close()
    if prune:
        for record in prunable(store.articles(), paths, scanned_paths, seen_ids):
            report.pruned.append({"id": record.id, "path": record.path or ""})
            if not dry_run:
                writer.delete(record.id)
            report.removed += 1
    report.chunks = store.chunk_count()
    report.seconds = time.perf_counter() - started
    return report


def remove_article(store: Store, article_id: str, on_write: OnWrite | None) -> None:
    """Takes an article out of the store (record first, then chunks) and tells ``on_write``
    which chunks went, so the side index follows without comparing itself with the store."""
    crashed = store.begin_write()
    gone = store.delete_article(article_id)
    before, after = store.bump_generation()
    if on_write is not None:
        on_write([], gone, before, after,
                 RegistryChange(removed=(article_id,), after_crash=crashed))


def prunable(records: Iterable[ArticleRecord], roots: Sequence[str | Path],
             scanned: set[str], seen_ids: dict[str, str]) -> list[ArticleRecord]:
    """The articles this run could have seen and did not: recorded from a file under one of
    the given paths that is gone, or from a file read now that no longer holds them. Other
    records (other folders, uploads, other machines' files in server mode) are left alone."""
    bases = [Path(r).resolve() for r in roots]
    out = []
    for record in records:
        if not record.path:
            continue
        where = Path(record.path)
        if not any(where == b or b in where.parents for b in bases):
            continue
        if not where.exists() or (record.path in scanned and record.id not in seen_ids):
            out.append(record)
    return out


def _name_taken(article: Article, where: str, seen_ids: dict[str, str],
                known: dict[str, ArticleRecord]) -> bool:
    """Whether another file, still there, already holds the id this file's name gives to
    other content. (A file whose old path is gone is an update of its article: it moved.)"""
    first = seen_ids.get(article.id)
    if first is not None:
        return first != where
    record = known.get(article.id)
    if record is None or not record.path or record.hash == article.content_hash:
        return False  # a new id, or the same article again (from a copy of its file)
    other = Path(record.path).resolve()
    return str(other) != where and other.exists()


def _folder_tag(path: Path) -> str:
    return hashlib.sha256(str(path.resolve().parent).encode()).hexdigest()[:8]


def _groups(items: Iterable[T], size: int) -> Iterator[list[T]]:
    group: list[T] = []
    for item in items:
        group.append(item)
        if len(group) >= size:
            yield group
            group = []
    if group:
        yield group


class _Writer:
    """Writes embedded batches to the store on its own thread, one batch behind the model.

    ONNX Runtime releases the GIL while it embeds, so the store's writes (Chroma, SQLite)
    overlap the next batch's embedding instead of adding to it. Errors are re-raised by
    ``submit`` or ``close`` in the caller's thread.

    Order of a write, so that a reader sees the old version of an article or the new one,
    never none and never half: new chunks (new ids: the id holds the content hash), then the
    registry record (the commit marker readers check hits against), then the old version's
    chunks are removed."""

    def __init__(self, store: Store, report: IngestReport, bar: Progress, started: float,
                 find_duplicate: Callable[[Article], CopyCheck] | None,
                 on_write: OnWrite | None) -> None:
        self.store = store
        self.report = report
        self.bar = bar
        self.started = started
        self.find_duplicate = find_duplicate
        self.on_write = on_write
        self._queue: queue.Queue[tuple[Batch, np.ndarray] | None] = queue.Queue(maxsize=1)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="ingest-writer", daemon=True)
        self._thread.start()

    def submit(self, batch: Batch, vectors: np.ndarray) -> None:
        self._raise()
        self._queue.put((batch, vectors))

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        self._raise()

    def delete(self, article_id: str) -> None:
        """Removes an article (after ``close``), and tells the side index."""
        remove_article(self.store, article_id, self.on_write)

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self._error is not None:
                continue  # drain: the caller will raise the first error
            try:
                self._write(*item)
            except BaseException as e:  # re-raised in the caller's thread
                self._error = e

    def _write(self, batch: Batch, vectors: np.ndarray) -> None:
        store, report = self.store, self.report
        at = 0
        commits, bands = [], []
        rows: list[ChunkRow] = []
        remark: list[tuple[str, str]] = []
        for article, chunks, _ in batch:
            check = self.find_duplicate(article) if self.find_duplicate else CopyCheck()
            remark += [(copy, article.id) for copy in check.copies]
            commits.append((article, len(chunks), check.original, check.signature))
            bands.append(check.bands)
            rows += chunk_rows(article, chunks, vectors[at : at + len(chunks)])
            at += len(chunks)
        crashed = store.begin_write()
        store.add_rows(rows)
        # Registry records next: an article is visible only once all its chunks are stored.
        store.commit_articles(commits, bands)
        gone = store.remove_stale_chunks([a.id for a, _, _ in batch],
                                         keep={c.id for _, chunks, _ in batch for c in chunks})
        for copy, original in remark:
            store.mark_duplicate(copy, original)
        for article, chunks, is_update in batch:
            report.chunks_written += len(chunks)
            if is_update:
                report.updated += 1
                report.updated_ids.append(article.id)
            else:
                report.added += 1
        before, after = store.bump_generation()
        if self.on_write is not None:
            change = RegistryChange(
                committed=tuple((a.id, a.content_hash[:12], original)
                                for a, _, original, _ in commits),
                recopied=tuple(remark), after_crash=crashed)
            self.on_write(rows, gone, before, after, change)
        elapsed = time.perf_counter() - self.started
        self.bar.update(len(batch), report.chunks_written / elapsed if elapsed else 0.0)


def stream_articles(
    files: Sequence[Path], max_bytes: int, report: IngestReport
) -> Iterator[tuple[Path, Article]]:
    """(file, article) pairs; a file that cannot be read goes to ``report.skipped`` whole,
    a bad record of a feed alone (with its line number)."""
    def bad_record(e: ArticleError) -> None:
        report.skipped.append({"path": e.path, "reason": _reason(e)})

    for path in files:
        try:
            for article in read_articles(path, max_bytes, on_bad_record=bad_record):
                yield path, article
        except ArticleError as e:
            report.skipped.append({"path": str(path), "reason": _reason(e)})
        except Exception as e:  # a parser's own failure is this file's, not the batch's
            _log.info("reading %s failed", path, exc_info=True)
            report.skipped.append({"path": str(path), "reason": _failure(e)})


def _reason(e: ArticleError) -> str:
    return f"line {e.line}: {e.reason}" if e.line is not None else e.reason


def _failure(e: Exception) -> str:
    """A file's reason when a parser (ours or a library's) failed on it unexpectedly."""
    if isinstance(e, ArticleError):
        return _reason(e)
    if isinstance(e, ImportError):
        return (f"cannot be read: a package its parser needs is missing ({e}); reinstall "
                "the assistant with its dependencies")
    detail = str(e).splitlines()[0][:200] if str(e) else ""
    return f"cannot be read: {type(e).__name__}" + (f" ({detail})" if detail else "")
