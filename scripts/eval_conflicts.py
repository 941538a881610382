"""Contradicting pairs (../shared/corpora/conflicts_dev): is each pair's disagreement shown?

    .venv/bin/python scripts/eval_conflicts.py [--index-dir DIR] [--rows NAME...]

Ingests the 140 short reports (70 pairs that disagree on one fact) into a store of their own
and asks each pair's question. A pair counts as handled when the answer states both versions
(any wording of `answer` and of `fakeanswer`) and `conflicts` lists the disagreement.
``--rows`` runs named rows of scripts/tune_news.py (the defaults otherwise).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.config import Settings  # noqa: E402
from assistant.runtime import Runtime  # noqa: E402

DATA = ROOT.parent / "shared" / "corpora" / "conflicts_dev"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--index-dir")
    parser.add_argument("--show", action="store_true", help="print every failed pair")
    parser.add_argument("--rows", nargs="*", help="rows of scripts/tune_news.py")
    parser.add_argument("--combination", type=Path,
                        help="a combination file in place of the shipped one")
    args = parser.parse_args()
    folder = Path(args.index_dir or tempfile.mkdtemp(prefix="conflicts-"))
    runtime = Runtime.open(Settings.load(index_dir=str(folder), llm="extractive"))
    runtime.ingest([DATA / "articles.jsonl"])
    fixtures = [json.loads(line) for line in (DATA / "fixtures.jsonl").open()]
    sys.path.insert(0, str(ROOT / "scripts"))
    from tune_news import ROWS, configure

    from assistant.answer.combination import Combination

    runtime.retriever.refresh()
    combination = Combination.load(args.combination) if args.combination else None
    for name in args.rows or ["chosen (the defaults)"]:
        measure(configure(runtime, *ROWS[name], combination), fixtures, args.show, name)


def measure(runtime: Runtime, fixtures: list[dict[str, Any]], show: bool, name: str) -> None:
    both = listed = handled = abstained = 0
    for f in fixtures:
        answer = runtime.ask(f["question"])
        low = answer.answer.lower()
        states = (any(w.lower() in low for w in f["answer"])
                  and any(w.lower() in low for w in f["fakeanswer"]))
        both += states
        listed += bool(answer.conflicts)
        handled += states and bool(answer.conflicts)
        abstained += answer.abstained
        if show and not (states and answer.conflicts):
            print(f"- {f['id']}: {f['question']} want {f['answer']} / {f['fakeanswer']}\n"
                  f"  got: {answer.answer[:300]}")
    n = len(fixtures)
    print(f"{name}: pairs {n}: both stated {both / n:.3f}, conflict listed {listed / n:.3f}, "
          f"both stated and listed {handled / n:.3f}, abstained {abstained / n:.3f}")


if __name__ == "__main__":
    main()
