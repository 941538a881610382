"""Tuning rows for docs/tuning.md over every dev set at once (news, essays, seeds, negatives).

    .venv/bin/python scripts/tune_news.py --index-dir /tmp/dev/base [--holdout] [--rows NAME...]

The store must hold ../shared/corpora/news_dev/articles.jsonl, the essays and the seeds. Each
row is a named set of retrieval and answer settings (ROWS below); every row runs the same
questions through ``Runtime.ask`` (with each fixture's ``asked_on`` as the asker's day) and
prints one Markdown line per set. The news questions are split by the week they were asked:
the weeks in ``HOLDOUT_WEEKS`` are never used for tuning, only to confirm (``--holdout``).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.answer.combination import Combination  # noqa: E402
from assistant.answer.extractive import ExtractiveTuning  # noqa: E402
from assistant.config import Settings  # noqa: E402
from assistant.evaluation.scoring import Fixture, load_fixtures, metrics, run  # noqa: E402
from assistant.retrieval.hybrid import RetrievalTuning, Retriever  # noqa: E402
from assistant.runtime import Runtime  # noqa: E402

SHARED = ROOT.parent / "shared"
# Three of the thirteen answerable weeks and two of the unanswerable ones, spread over the year.
HOLDOUT_WEEKS = {"2024-03-29", "2024-07-18", "2024-11-07", "2024-11-08",
                 "2024-05-09", "2024-05-10", "2024-12-19", "2024-12-20"}

# Levers measured and not kept (re-ranking by the best sentence, rare-word and focus-word
# abstention rules, score-based fusion) were removed from the code afterwards; their rows in
# docs/tuning.md were produced by this script at commit 90a4991 (the follower-support rows
# at 0dafe85, the FTS5 rarest-word rows at cbc31de; the full-name floor, a possessive cut
# from names and nearest-phrase-first rows by their code before 2026-12-01's fourth round's
# commit; the fifth round's headline credit, organisation-tagged people, absolute nearness
# and first-article rows by code tried and removed around commit c2d24c1; the 2026-12-03
# second round's rows for a ranking's first article among the five, centred vectors, the
# asked noun by part of speech, category nouns and lifted names by code tried and removed
# after commit 3732f00, as docs/tuning.md describes them; the 2026-12-06 sixth round's
# labelled kinds near the asked noun, headlines embedded with chunks and a headline ranking
# by code tried and removed after commit 0e0e575). A row names its changes against
# the defaults of the moment it ran (docs/tuning.md gives them), not today's. The rows that
# turned off one of the reader's rules ran at commit 70186d1: the rules are no longer switches.
# The rows of the design before article ranking ("before (chunk fusion, no kinds)", "articles,
# best chunk") ran at commit 676916c: its modes left the retriever.
ROWS: dict[str, tuple[RetrievalTuning, ExtractiveTuning]] = {
    "chosen (the defaults)": (RetrievalTuning(), ExtractiveTuning()),
    "fitted, untyped margin 0.84": (RetrievalTuning(), ExtractiveTuning(untyped_margin=0.84)),
    "fitted, untyped margin 0.97": (RetrievalTuning(), ExtractiveTuning(untyped_margin=0.97)),
    "fitted, untyped never": (RetrievalTuning(), ExtractiveTuning(untyped_margin=1.01)),
    "fitted, floor 0.05": (RetrievalTuning(), ExtractiveTuning(floor=0.05)),
    "fitted, floor 0.2": (RetrievalTuning(), ExtractiveTuning(floor=0.2)),
    "fitted, cutoff 0.4": (RetrievalTuning(), ExtractiveTuning(relative_cutoff=0.4)),
    "fitted, cutoff 0.25": (RetrievalTuning(), ExtractiveTuning(relative_cutoff=0.25)),
    "fitted, cutoff 0.2": (RetrievalTuning(), ExtractiveTuning(relative_cutoff=0.2)),
    "fitted, cutoff 0.15": (RetrievalTuning(), ExtractiveTuning(relative_cutoff=0.15)),
    "fitted, cutoff 0.5": (RetrievalTuning(), ExtractiveTuning(relative_cutoff=0.5)),
    "fitted, outsider 0.5": (RetrievalTuning(), ExtractiveTuning(outsider_share=0.5)),
    "fitted, kind bonus 0.05, penalty 0.05": (
        RetrievalTuning(), ExtractiveTuning(kind_bonus=0.05, kind_penalty=0.05)),
    "fitted, kind bonus 0.2, penalty 0.3": (
        RetrievalTuning(), ExtractiveTuning(kind_bonus=0.2, kind_penalty=0.3)),
    "chosen, no long-article discount (before 2026-12-06)": (
        RetrievalTuning(long_discount=0.0), ExtractiveTuning()),
    "chosen, long discount 0.01": (RetrievalTuning(long_discount=0.01), ExtractiveTuning()),
    "chosen, long discount 0.04": (RetrievalTuning(long_discount=0.04), ExtractiveTuning()),
    "chosen, long past 30 chunks": (RetrievalTuning(long_chunks=30), ExtractiveTuning()),
    "chosen, long past 60 chunks": (RetrievalTuning(long_chunks=60), ExtractiveTuning()),
    "chosen, every length discounted (past 1 chunk), 0.01": (
        RetrievalTuning(long_discount=0.01, long_chunks=1), ExtractiveTuning()),
    "chosen, asker's days 7": (RetrievalTuning(), ExtractiveTuning(asker_days=7)),
    "chosen, asker's days 30": (RetrievalTuning(), ExtractiveTuning(asker_days=30)),
    "chosen, pool 10": (RetrievalTuning(pool=10), ExtractiveTuning()),
    "chosen, pool 15": (RetrievalTuning(pool=15), ExtractiveTuning()),
    "chosen, pool 20": (RetrievalTuning(pool=20), ExtractiveTuning()),
    "chosen, no closeness": (RetrievalTuning(), ExtractiveTuning(closeness=0.0)),
    "chosen, closeness 1.5": (RetrievalTuning(), ExtractiveTuning(closeness=1.5)),
    "chosen, closeness 6": (RetrievalTuning(), ExtractiveTuning(closeness=6.0)),
    "chosen, no rarest noun": (RetrievalTuning(), ExtractiveTuning(rare_share=0.0)),
    "chosen, rarest noun 0.00025": (RetrievalTuning(), ExtractiveTuning(rare_share=0.00025)),
    "chosen, rarest noun 0.001": (RetrievalTuning(), ExtractiveTuning(rare_share=0.001)),
    "chosen, no past years": (RetrievalTuning(), ExtractiveTuning(past_years=0)),
    "chosen, past years 1": (RetrievalTuning(), ExtractiveTuning(past_years=1)),
    "chosen, past years 2": (RetrievalTuning(), ExtractiveTuning(past_years=2)),
    "chosen, own words whole": (RetrievalTuning(), ExtractiveTuning(own_share=1.0)),
    "chosen, own words 0.6": (RetrievalTuning(), ExtractiveTuning(own_share=0.6)),
    "chosen, article k 20": (RetrievalTuning(article_rrf_k=20), ExtractiveTuning()),
    "chosen, article k 10": (RetrievalTuning(article_rrf_k=10), ExtractiveTuning()),
    "chosen, BM25 weight 1.25": (RetrievalTuning(lexical_weight=1.25), ExtractiveTuning()),
    "chosen, BM25 weight 1.5": (RetrievalTuning(lexical_weight=1.5), ExtractiveTuning()),
    "chosen, no asker's fortnight": (RetrievalTuning(), ExtractiveTuning(asker_days=0)),
    "chosen, head similarity 0.3": (RetrievalTuning(), ExtractiveTuning(head_similarity=0.3)),
    "chosen, head similarity 0.4": (RetrievalTuning(), ExtractiveTuning(head_similarity=0.4)),
    "chosen, head sentences 6": (RetrievalTuning(), ExtractiveTuning(head_sentences=6)),
    "articles, pool 60": (RetrievalTuning(pool=60), ExtractiveTuning()),
    "articles, pool 100": (RetrievalTuning(pool=100), ExtractiveTuning()),
    "articles, bm25 1.0": (RetrievalTuning(lexical_weight=1.0), ExtractiveTuning()),
    "articles, bm25 1.0, pool 60": (RetrievalTuning(lexical_weight=1.0, pool=60),
                                    ExtractiveTuning()),
    "articles, k_a 10": (RetrievalTuning(article_rrf_k=10), ExtractiveTuning()),
    "articles, depth 0.5": (RetrievalTuning(depth=0.5), ExtractiveTuning()),
    "bm25 1.0, penalty 0.3": (RetrievalTuning(lexical_weight=1.0),
                              ExtractiveTuning(kind_penalty=0.3)),
    "bm25 1.0, typed 3": (RetrievalTuning(lexical_weight=1.0),
                          ExtractiveTuning(typed_sentences=3)),
    "bm25 1.0, typed 2": (RetrievalTuning(lexical_weight=1.0),
                          ExtractiveTuning(typed_sentences=2)),
    "bm25 1.0, extra 2": (RetrievalTuning(lexical_weight=1.0, extra_chunks=2),
                          ExtractiveTuning()),
    "bm25 1.0, extra 5": (RetrievalTuning(lexical_weight=1.0, extra_chunks=5),
                          ExtractiveTuning()),
    "bm25 1.0, extra 2, no kinds": (RetrievalTuning(lexical_weight=1.0, extra_chunks=2),
                                    ExtractiveTuning(kind_tagged=0)),
    "chosen, tag 24": (RetrievalTuning(), ExtractiveTuning(kind_tagged=24)),
    "chosen, embed 16": (RetrievalTuning(), ExtractiveTuning(embed_budget=16)),
    "chosen, favour 1": (RetrievalTuning(favour=1.0), ExtractiveTuning()),
    "chosen, favour 3": (RetrievalTuning(favour=3.0), ExtractiveTuning()),
    "chosen, FTS5 candidates 30": (RetrievalTuning(lexical_candidates=30), ExtractiveTuning()),
    "chosen, lead 1": (RetrievalTuning(), ExtractiveTuning(lead_articles=1)),
    "chosen, outsider 0.9": (RetrievalTuning(), ExtractiveTuning(outsider_share=0.9)),
    "chosen, extra 4": (RetrievalTuning(extra_chunks=4), ExtractiveTuning()),
    "chosen, favour 0.5": (RetrievalTuning(favour=0.5), ExtractiveTuning()),
    "chosen, lead 1, extra 3": (RetrievalTuning(extra_chunks=3),
                                ExtractiveTuning(lead_articles=1)),
    "chosen, lead 1, extra 4": (RetrievalTuning(extra_chunks=4),
                                ExtractiveTuning(lead_articles=1)),
    "chosen, FTS5 candidates 5": (RetrievalTuning(lexical_candidates=5), ExtractiveTuning()),
    "chosen, embed 24": (RetrievalTuning(), ExtractiveTuning(embed_budget=24)),
    "chosen, embed all": (RetrievalTuning(), ExtractiveTuning(embed_budget=0)),
    "chosen, embed all, tag 32": (RetrievalTuning(),
                                  ExtractiveTuning(embed_budget=0, kind_tagged=32)),
    "chosen, rivals of any words": (RetrievalTuning(), ExtractiveTuning(rival_words=0.0)),
    "chosen, rivals 0.9 of the words": (RetrievalTuning(), ExtractiveTuning(rival_words=0.9)),
    "chosen, article k 120": (RetrievalTuning(article_rrf_k=120.0), ExtractiveTuning()),
    "chosen, lexical weight 1.2": (RetrievalTuning(lexical_weight=1.2), ExtractiveTuning()),
    "chosen, FTS5 candidates 100": (RetrievalTuning(lexical_candidates=100),
                                    ExtractiveTuning()),
}


def news_split(holdout: bool, name: str = "fixtures.jsonl") -> list[Fixture]:
    fixtures = load_fixtures(SHARED / "corpora" / "news_dev" / name)
    return [f for f in fixtures if (f.asked_on in HOLDOUT_WEEKS) == holdout]


def sets(holdout: bool) -> dict[str, list[Fixture]]:
    return {
        "news": news_split(holdout),
        # Answers found only in older articles (accidental mentions): no target, reported apart.
        "background": news_split(holdout, "fixtures_background.jsonl"),
        "essays": load_fixtures(SHARED / "corpora" / "pg_essays" / "fixtures_dev.jsonl"),
        "seeds": load_fixtures(ROOT / "tests" / "data" / "seeds_dev.jsonl"),
        "negatives": load_fixtures(ROOT / "tests" / "data" / "negatives_dev.jsonl"),
    }


def configure(runtime: Runtime, retrieval: RetrievalTuning, answer: ExtractiveTuning,
              combination: Combination | None = None) -> Runtime:
    """A runtime over the same store and models with a row's settings."""
    base = runtime.retriever
    retriever = Retriever(base.store, base.embedder, base.lexical, retrieval)
    # The answerer reads the same side index whatever the retrieval row: built on
    # ``runtime``'s parts, it serves the tuned retriever as it is.
    return Runtime(runtime.settings, runtime.store, embedder=runtime.embedder,
                   reader=runtime.reader, tagger=runtime.tagger, retriever=retriever,
                   extractive=runtime.extractive_answerer(answer, combination))


def row(name: str, label: str, m: dict[str, Any]) -> str:
    def f(v: Any) -> str:
        return "–" if v is None else f"{v:.3f}"

    r, a, ab, c = m["retrieval"], m["answer"], m["abstention"], m["citations"]
    return (f"| {name} | {label} | {m['n']} | {f(r['hit@1'])} | {f(r['hit@5'])} | "
            f"{f(a['fact_recall'])} | {f(c['precision'])} | {f(c['supported'])} | "
            f"{f(ab['accuracy'])} | {f(ab['false_answer'])} | {f(ab['false_abstain'])} | "
            f"{m['latency_ms']['p95']:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--index-dir", required=True)
    parser.add_argument("--holdout", action="store_true")
    parser.add_argument("--rows", nargs="*")
    parser.add_argument("--sets", nargs="*", help="only these sets (news essays seeds ...)")
    parser.add_argument("--combination", type=Path,
                        help="a combination file in place of the shipped one")
    args = parser.parse_args()
    runtime = Runtime.open(Settings.load(index_dir=args.index_dir, llm="extractive"))
    runtime.retriever.refresh()
    chosen = args.rows or list(ROWS)
    print("| row | set | n | hit@1 | hit@5 | fact recall | cit. precision | cit. supported "
          "| abstention acc. | false answer | false abstain | p95 ms |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name in chosen:
        retrieval, answer = ROWS[name]
        tuned = configure(runtime, retrieval, answer,
                          Combination.load(args.combination) if args.combination else None)
        for label, fixtures in sets(args.holdout).items():
            if args.sets and label not in args.sets:
                continue
            started = time.perf_counter()

            def ask(f: Fixture, tuned: Runtime = tuned) -> Any:
                day = date.fromisoformat(f.asked_on) if f.asked_on else None
                return tuned.ask(f.question, today=day)

            outcomes = run(fixtures, ask)
            m = metrics(outcomes)
            print(row(name, label, m), flush=True)
            # Each news question has one right answer: an answer saying the reports differ
            # on it is a false disagreement (or a rival a fixture does not know).
            differ = sum(bool(o.answer.conflicts) for o in outcomes)
            print(f"  ({label}: {time.perf_counter() - started:.0f} s, {differ} answers say "
                  "the reports differ)", file=sys.stderr)


if __name__ == "__main__":
    _ = replace
    main()
