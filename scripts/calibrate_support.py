"""Where "this quote answers the question" should start (``extractive.ANSWERS_AT``, on the
answer combination's probability that a sentence answers).

    .venv/bin/python scripts/calibrate_support.py --index-dir /tmp/dev/base

Every citation of our extractive answers to the answerable dev questions (news tuning
weeks, essays, seeds; then the held-out news weeks apart) is labelled good when its article
is one the fixture names and, where the fixture lists answer wordings, the quote holds one
of them. Prints, per threshold, how well "probability >= threshold" tells good quotes from
the others (F1 of the good ones, and balanced accuracy) on each part. The bar kept is the
best on the tuning part that does not lose the held-out weeks (docs/tuning.md).
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from tune_news import news_split, sets  # noqa: E402

from assistant.config import Settings  # noqa: E402
from assistant.evaluation.scoring import Fixture  # noqa: E402
from assistant.runtime import Runtime  # noqa: E402

THRESHOLDS = [x / 100 for x in range(10, 61, 5)]


def scored(runtime: Runtime, fixtures: list[Fixture]) -> list[tuple[float, bool, bool]]:
    out = []
    for f in fixtures:
        if not f.answerable:
            continue
        day = date.fromisoformat(f.asked_on) if f.asked_on else None
        answer = runtime.ask(f.question, today=day)
        wordings = [w.lower() for fact in f.answers for w in fact]
        for c in answer.citations:
            good = c.article_id in f.sources and (
                not wordings or any(w in c.quote.lower() for w in wordings))
            out.append((c.support_score, c.supported, good))
    return out


def table(label: str, rows: list[tuple[float, bool, bool]]) -> None:
    goods = sum(g for _, _, g in rows)
    print(f"\n{label}: {len(rows)} citations, {goods} good")
    print("| mark | good marked | others marked | F1 | balanced accuracy |")
    print("| --- | --- | --- | --- | --- |")
    marks = [("as given (`supported`)", lambda s, m: m)] + [
        (f"score >= {t:.2f}", lambda s, m, t=t: s >= t) for t in THRESHOLDS]
    for name, marked in marks:
        tp = sum(1 for s, m, g in rows if g and marked(s, m))
        fp = sum(1 for s, m, g in rows if not g and marked(s, m))
        recall = tp / max(1, goods)
        others = fp / max(1, len(rows) - goods)
        f1 = 2 * tp / max(1, 2 * tp + fp + (goods - tp))
        print(f"| {name} | {recall:.3f} | {others:.3f} | {f1:.3f} | "
              f"{(recall + 1 - others) / 2:.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--index-dir", required=True)
    args = parser.parse_args()
    runtime = Runtime.open(Settings.load(index_dir=args.index_dir, llm="extractive"))
    parts = sets(False)
    tuning = [s for name in ("news", "essays", "seeds") for s in scored(runtime, parts[name])]
    table("tuning part (news tuning weeks, essays, seeds)", tuning)
    table("held-out news weeks", scored(runtime, news_split(True)))


if __name__ == "__main__":
    main()
