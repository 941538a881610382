"""Writes tests/data/news_subset/: the CI quality gate's small slice of the news dev set.

    .venv/bin/python scripts/make_news_subset.py

The held-out weeks of ../shared/corpora/news_dev (``tune_news.HOLDOUT_WEEKS``: no tuning
reads them, so the gate's floors are not set on the data the settings were chosen on; four
weeks with answers in the articles, four without; the fixtures as relabelled for issue 37:
an answer only in older articles is no target), every article those weeks' questions cite,
every article of the fortnight before each week (what a reader of that week's news had: the
answerer reads a report against the days a question is about when the store holds them), and
a fixed sample of other articles of the corpus as distractors. Deterministic: the same input
gives the same files.
"""

from __future__ import annotations

import json
import random
import sys
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tune_news import HOLDOUT_WEEKS as WEEKS

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT.parent / "shared" / "corpora" / "news_dev"
OUT = ROOT / "tests" / "data" / "news_subset"
DISTRACTORS = 150


def main() -> None:
    fixtures = [json.loads(line) for line in (SOURCE / "fixtures.jsonl").open()]
    chosen = [f for f in fixtures if f.get("asked_on") in WEEKS]
    articles = [json.loads(line) for line in (SOURCE / "articles.jsonl").open()]
    cited = {s for f in chosen for s in f.get("sources", [])}
    for week in WEEKS:
        first = (date.fromisoformat(week) - timedelta(days=14)).isoformat()
        cited |= {a["id"] for a in articles if first <= (a.get("date") or "") <= week}
    others = [a for a in articles if a["id"] not in cited]
    random.Random(11).shuffle(others)
    keep = {a["id"] for a in others[:DISTRACTORS]} | cited
    OUT.mkdir(parents=True, exist_ok=True)
    with (OUT / "articles.jsonl").open("w") as fh:
        for a in articles:
            if a["id"] in keep:
                fh.write(json.dumps(a, ensure_ascii=False) + "\n")
    with (OUT / "fixtures.jsonl").open("w") as fh:
        for f in chosen:
            fh.write(json.dumps(f, ensure_ascii=False) + "\n")
    print(f"{len(keep)} articles, {len(chosen)} fixtures")


if __name__ == "__main__":
    main()
