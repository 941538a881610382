"""Abstention threshold rows for docs/tuning.md.

    .venv/bin/python scripts/calibrate_abstention.py [--essays 60]

Scores every dev question (seeds, essays, and our own unanswerable negatives) with the
extractive answerer's best sentence score over the seeds plus the essay subset, then prints
abstention accuracy for a range of thresholds.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.config import Settings  # noqa: E402
from assistant.index.embedding import LocalEmbedder  # noqa: E402
from assistant.index.store import Store  # noqa: E402
from assistant.runtime import Runtime  # noqa: E402
from tests.conftest import PG_FIXTURES, SEED_FIXTURES, SEEDS, pg_subset, read_jsonl  # noqa: E402

NEGATIVES = ROOT / "tests" / "data" / "negatives_dev.jsonl"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--essays", type=int, default=60)
    args = ap.parse_args()
    fixtures = read_jsonl(SEED_FIXTURES) + read_jsonl(PG_FIXTURES) + read_jsonl(NEGATIVES)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(index_dir=Path(tmp) / "index")
        runtime = Runtime(settings, Store.from_settings(settings), embedder=LocalEmbedder())
        runtime.ingest([SEEDS, pg_subset(Path(tmp) / "essays.jsonl", args.essays)])
        runtime.retriever.refresh()
        rows = []
        for f in fixtures:
            qv = runtime.embedder.embed([f["question"]])[0]
            hits = runtime.retriever.retrieve(f["question"], settings.top_k, None, qv)
            cands, _, _ = runtime.extractive.score(f["question"], qv, hits)
            best = max((c.score for c in cands), default=0.0)
            rows.append((best, f.get("answerable", True), f["id"]))
            print(f"{best:.3f}  {'answerable  ' if rows[-1][1] else 'UNANSWERABLE'}  {f['id']}")
        print("\nthreshold  accuracy  false_abstain  false_answer")
        pos = [r for r in rows if r[1]]
        neg = [r for r in rows if not r[1]]
        for t in [x / 100 for x in range(26, 50, 2)]:
            fa = sum(r[0] < t for r in pos) / len(pos)
            fn = sum(r[0] >= t for r in neg) / len(neg)
            acc = (sum(r[0] >= t for r in pos) + sum(r[0] < t for r in neg)) / len(rows)
            print(f"{t:.2f}       {acc:.3f}     {fa:.3f}          {fn:.3f}")


if __name__ == "__main__":
    main()
