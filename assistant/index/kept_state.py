"""The store's writer lock, and its generation kept in a small file beside the side index so
that a question in a fresh process learns it without opening Chroma: the side index answers
the rest, and the process saves the 0.3-0.4 s that importing and starting Chroma take
(docs/decisions.md, "A fresh ask").

The kept file holds the generation, the collection and embedding model it was read for, and
the signature (inode, size, modification time) of Chroma's database file at that moment. It is
believed only while that signature is unchanged: any write to the store, by this program or
another, changes the database file, and so does opening a client on it (Chroma writes as it
opens). It is written only by a process holding the writer lock, from a state read with no
write under way and the database unchanged across the read; a writer removes it before it
writes, so that a write within one tick of the file system's clock cannot hide.

Only for an embedded store: a Chroma server's other clients write where this machine cannot
see the file change.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

State = tuple[str, bool]  # (generation, a write under way): ``Store.state``
Signature = list[list[int] | None]


class KeptState:
    """``prefix``: where the lock and the kept file go (``<prefix>.writer.lock``,
    ``<prefix>.state.json``); ``database``: the store's database file (None: a server store,
    nothing is kept)."""

    def __init__(self, prefix: Path, database: Path | None, *, collection: str,
                 embed_model: str) -> None:
        self.path = Path(f"{prefix}.state.json")
        self.database = database
        self._lock_path = Path(f"{prefix}.writer.lock")
        self._for = {"collection": collection, "embed_model": embed_model}

    @contextmanager
    def writing(self, read_state: Callable[[], State],
                on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
        """Holds the writer lock for a write (waiting for another writer, and saying so
        through ``on_wait``), with the kept state removed; a write that completes keeps the
        state it leaves."""
        lock = self._lock()
        try:
            lock.acquire(timeout=0)
        except Timeout:
            if on_wait is not None:
                on_wait("another process is writing to this store; waiting for it to finish")
            lock.acquire()
        try:
            self.path.unlink(missing_ok=True)
            yield
            if self.database is not None:
                self._keep(read_state)
        finally:
            lock.release()

    def state(self, read_state: Callable[[], State]) -> State:
        """The store's state: the kept one while the store is unchanged, else read (and kept
        for the next process, unless a writer holds the lock)."""
        generation = self._kept()
        if generation is not None:
            return generation, False
        state = read_state()
        if self.database is None or state[1]:
            return state
        try:
            lock = self._lock()
            lock.acquire(timeout=0)
        except (Timeout, OSError):  # a writer holds it; or this process may not write here
            return state
        try:
            # Read again under the lock: a write may have finished since.
            return self._keep(read_state)
        except OSError:  # the kept file could not be written: the question goes on without
            return state
        finally:
            lock.release()

    def _lock(self) -> FileLock:
        self._lock_path.parent.mkdir(parents=True, exist_ok=True)
        return FileLock(self._lock_path)

    def _kept(self) -> str | None:
        if self.database is None:
            return None
        try:
            kept = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(kept, dict) or any(kept.get(k) != v for k, v in self._for.items()):
            return None
        signature = self._signature()
        generation = kept.get("generation")
        if signature is None or kept.get("signature") != signature:
            return None
        return generation if isinstance(generation, str) else None

    def _keep(self, read_state: Callable[[], State]) -> State:
        before = self._signature()
        state = read_state()
        after = self._signature()
        if state[1] or before is None or before != after:
            self.path.unlink(missing_ok=True)
            return state
        kept = {**self._for, "generation": state[0], "signature": after}
        part = self.path.with_name(self.path.name + ".part")
        part.write_text(json.dumps(kept))
        os.replace(part, self.path)  # whole or not at all, for a reader without the lock
        return state

    def _signature(self) -> Signature | None:
        """The database file's, and its write-ahead log's where SQLite keeps one."""
        if self.database is None:
            return None
        out: Signature = []
        for path in (self.database, self.database.with_name(self.database.name + "-wal")):
            try:
                st = path.stat()
            except FileNotFoundError:
                out.append(None)
                continue
            out.append([st.st_ino, st.st_size, st.st_mtime_ns])
        return out if out[0] is not None else None
