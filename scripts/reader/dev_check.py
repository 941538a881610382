"""The reading model on the news dev set (2024 weeks, never trained on), by the same figures as
its validation split, beside MiniLM cosine: does what it learned from 2022-2023 carry over?

Candidates of a question: the sentences of the corpus's articles dated from 10 days before to
3 days after it was asked (the dev set's own window), the 40 that share most content words
with the question (a stand-in for retrieval that favours neither scorer). A candidate is
positive when it holds one of the fixture's answers; answerable questions whose answer is in
no candidate are left out of ``first``.

    .venv/bin/python scripts/reader/dev_check.py ../shared/corpora/news_dev
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import date, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from evaluate import both_scores
from examples import metrics

from assistant.answer.reading import WEIGHTS, ReadingModel
from assistant.index.embedding import LocalEmbedder
from assistant.ingest.chunking import split_sentences
from assistant.text import content_stems

CANDIDATES = 40


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("corpus", type=Path, help="a folder with articles.jsonl, fixtures.jsonl")
    parser.add_argument("--weights", type=Path, default=WEIGHTS)
    args = parser.parse_args()
    articles = [json.loads(x) for x in (args.corpus / "articles.jsonl").open()]
    fixtures = [json.loads(x) for x in (args.corpus / "fixtures.jsonl").open()]
    sentences: list[tuple[str, str, set[str]]] = []  # (date, text, stems)
    for a in articles:
        if not a.get("date"):
            continue
        text = a["text"]
        for s, e in split_sentences(text):
            sentence = text[s:e].strip()
            if 30 <= len(sentence) <= 600:
                sentences.append((a["date"], sentence, set(content_stems(sentence))))
    rows: list[dict] = []
    for f in fixtures:
        asked = date.fromisoformat(f["asked_on"])
        lo, hi = (asked - timedelta(days=10)).isoformat(), (asked + timedelta(days=3)).isoformat()
        q = set(content_stems(f["question"]))
        pool = [(len(q & st), text) for day, text, st in sentences if lo <= day <= hi]
        pool.sort(key=lambda item: -item[0])
        answers = [re.compile(r"(?<!\w)" + re.escape(a) + r"(?!\w)", re.IGNORECASE)
                   for alias in f["answers"] for a in alias] if f["answerable"] else []
        for _, text in pool[:CANDIDATES]:
            rows.append({"qid": f["id"], "question": f["question"], "sentence": text,
                         "label": int(any(p.search(text) for p in answers))})
    read, cos = both_scores(rows, ReadingModel(args.weights), LocalEmbedder())
    print(json.dumps({"reader": metrics(rows, read), "cosine": metrics(rows, cos),
                      "combined (leave one week out)": metrics(rows, combined(rows, read, cos)),
                      "questions": len(fixtures), "pairs": len(rows)}, indent=1))


WEIGHTS_TRIED = (0.0, 0.25, 0.5, 0.75, 1.0)


def combined(rows: list[dict], read: np.ndarray, cos: np.ndarray) -> np.ndarray:
    """w * reader + (1 - w) * cosine, each standardised; for each quiz week, w is the one that
    does best (first + auc) on the other weeks, so no week is scored with a weight fitted on
    it."""
    z_read = (read - read.mean()) / read.std()
    z_cos = (cos - cos.mean()) / cos.std()
    week = np.array([r["qid"].split("_")[0] for r in rows])
    out = np.zeros(len(rows), dtype=np.float32)
    for held in sorted(set(week)):
        rest = [i for i in range(len(rows)) if week[i] != held]
        sub = [rows[i] for i in rest]

        def worth(w: float, sub: list[dict] = sub, rest: list[int] = rest) -> float:
            m = metrics(sub, w * z_read[rest] + (1 - w) * z_cos[rest])
            return float(m["first"]) + float(m["auc"])

        w = max(WEIGHTS_TRIED, key=worth)
        idx = week == held
        out[idx] = w * z_read[idx] + (1 - w) * z_cos[idx]
    return out


if __name__ == "__main__":
    main()
