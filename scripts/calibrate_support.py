"""Where "this quote answers the question" should start (``citations.ANSWERS_AT``).

    .venv/bin/python scripts/calibrate_support.py --index-dir /tmp/dev/base

Every citation of our extractive answers to the answerable dev questions (news dev split,
essays, seeds) is labelled good when its article is one the fixture names and, where the
fixture lists answer wordings, the quote holds one of them. Prints, per threshold, how well
"score >= threshold" tells good quotes from the others.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from tune_news import sets  # noqa: E402

from assistant.config import Settings  # noqa: E402
from assistant.runtime import Runtime  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--index-dir", required=True)
    args = parser.parse_args()
    runtime = Runtime.open(Settings.load(index_dir=args.index_dir, llm="extractive"))
    scored: list[tuple[float, bool]] = []
    for name, fixtures in sets(False).items():
        for f in fixtures:
            if not f.answerable:
                continue
            day = date.fromisoformat(f.asked_on) if f.asked_on else None
            answer = runtime.ask(f.question, today=day)
            wordings = [w.lower() for fact in f.answers for w in fact]
            for c in answer.citations:
                good = c.article_id in f.sources and (
                    not wordings or any(w in c.quote.lower() for w in wordings))
                scored.append((c.support_score, good))
        print(f"{name}: {len(scored)} citations so far", file=sys.stderr)
    goods = sum(g for _, g in scored)
    print(f"{len(scored)} citations, {goods} good")
    print("| threshold | good marked supported | others marked supported | balanced accuracy |")
    print("| --- | --- | --- | --- |")
    for t in [x / 100 for x in range(30, 66, 5)]:
        tp = sum(1 for s, g in scored if g and s >= t) / max(1, goods)
        fp = sum(1 for s, g in scored if not g and s >= t) / max(1, len(scored) - goods)
        print(f"| {t:.2f} | {tp:.3f} | {fp:.3f} | {(tp + 1 - fp) / 2:.3f} |")


if __name__ == "__main__":
    main()
