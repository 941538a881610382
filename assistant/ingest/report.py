"""What an ingest run found and did (``IngestReport``), the files it reads (``discover``)
and its progress bar.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from assistant.ingest.files import SUFFIXES


@dataclass
class IngestReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    updated_ids: list[str] = field(default_factory=list)  # articles replaced by a new version
    skipped: list[dict[str, str]] = field(default_factory=list)
    chunks: int = 0  # chunks in the store after the run
    seconds: float = 0.0
    chunks_written: int = 0
    notes: list[str] = field(default_factory=list)
    pruned: list[dict[str, str]] = field(default_factory=list)  # {"id", "path"} removed

    def to_json(self) -> dict[str, object]:
        return {
            "added": self.added, "updated": self.updated, "unchanged": self.unchanged,
            "removed": self.removed, "skipped": self.skipped, "chunks": self.chunks,
            "seconds": round(self.seconds, 3),
        }

    @property
    def chunks_per_second(self) -> float:
        return self.chunks_written / self.seconds if self.seconds > 0 else 0.0


def discover(paths: Iterable[str | Path], report: IngestReport) -> list[Path]:
    """Files to read, in a stable order; paths that cannot be used go to ``report.skipped``."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        try:
            is_dir = path.is_dir()
            exists = path.exists() or path.is_symlink()
        except OSError as e:  # a symlink loop raises ELOOP on stat
            report.skipped.append({"path": str(path), "reason": e.strerror or str(e)})
            continue
        if not exists:
            report.skipped.append({"path": str(path), "reason": "no such file or directory"})
        elif is_dir:
            for root, dirs, files in os.walk(path, followlinks=False):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    p = Path(root) / name
                    if not name.startswith(".") and p.suffix.lower() in SUFFIXES:
                        found.append(p)
        else:
            found.append(path)
    return list(dict.fromkeys(found))


def estimate_articles(files: Sequence[Path]) -> int:
    total = 0
    for f in files:
        if f.suffix.lower() == ".jsonl":
            try:
                with f.open("rb") as fh:
                    total += sum(1 for line in fh if line.strip())
            except OSError:
                total += 1
        else:
            total += 1
    return total


class Progress:
    """The tqdm bar on stderr, or nothing."""

    def __init__(self, total: int, enabled: bool) -> None:
        self._bar = None
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(total=total, unit="article", file=sys.stderr, dynamic_ncols=True,
                             desc="ingest")

    def update(self, n: int, chunks_per_s: float) -> None:
        if self._bar is not None:
            self._bar.set_postfix_str(f"{chunks_per_s:.1f} chunks/s", refresh=False)
            self._bar.update(n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
