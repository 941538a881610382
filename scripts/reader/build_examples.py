"""(question, sentence) examples for the reading model, from RealTime QA's 2022 and 2023 weeks.

Source: the public repository realtimeqa/realtimeqa_public (``past/2022/``, ``past/2023/``):
each week's ``YYYYMMDD_qa.jsonl`` (the quiz: question, date, choices, answer) and
``YYYYMMDD_gcs.jsonl`` (the search results behind each question: url, title, text,
publish_date). Weeks of 2024 are the dev sets and 2025 on are kept for independent
evaluation: this script refuses to read any week that is not of 2022 or 2023.

Labels, for every sentence of every search result (sentences as the assistant splits them):
- positive: it holds the answer (the right choice, as words), shares at least two content
  words with the question (one, for a question of one), and its article is dated from 10 days
  before to 3 days after the question was asked, the window the news dev set uses;
- hard negative ("choice"): it names a wrong choice and not the answer;
- negative: any other sentence of those results;
- left out: the answer in an article outside the window, or in a sentence that shares almost
  nothing with the question (accidental mentions: neither evidence nor clean negatives).
Questions with no positive sentence keep their negatives: they teach what not to answer.

Split: questions asked from 2023-10-01 on are the validation set, the rest train; the split is
by week, so a week's articles never sit on both sides.

    python scripts/reader/build_examples.py /path/to/realtimeqa_public data/reader/examples.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
import re
from datetime import date, datetime
from pathlib import Path

from assistant.ingest.chunking import split_sentences
from assistant.text import content_stems

YEARS = ("2022", "2023")
VALIDATION_FROM = date(2023, 10, 1)
WINDOW_BEFORE, WINDOW_AFTER = 10, 3
NEGATIVES_PER_QUESTION = 24  # kept per question (the most question-like first, then random)
MIN_CHARS, MAX_CHARS = 30, 600
SEED = 13


def _day(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return datetime.strptime(text[:10], "%Y/%m/%d").date()
    except ValueError:
        return None


def _pattern(choice: str) -> re.Pattern[str] | None:
    words = re.findall(r"\w+", choice.lower())
    if not words:
        return None
    return re.compile(r"(?<!\w)" + r"\W+".join(re.escape(w) for w in words) + r"(?!\w)",
                      re.IGNORECASE)


def weeks(root: Path) -> list[tuple[Path, Path]]:
    """(quiz, search results) file pairs of the 2022 and 2023 weeks, in date order."""
    pairs = []
    for year in YEARS:
        for quiz in sorted((root / "past" / year).glob("[0-9]" * 8 + "_qa.jsonl")):
            results = quiz.with_name(quiz.name.replace("_qa.jsonl", "_gcs.jsonl"))
            if not quiz.name.startswith(year):
                raise SystemExit(f"{quiz}: not a week of {year}")
            if results.exists():
                pairs.append((quiz, results))
    return pairs


def examples_of(question: dict, results: list[dict], rng: random.Random) -> list[dict]:
    asked = _day(question["question_date"])
    choices = [c.strip().strip("“”\"'‘’ ") for c in question["choices"]]
    right = int(question["answer"][0]) if question.get("answer") else -1
    if asked is None or not 0 <= right < len(choices):
        return []
    answer = _pattern(choices[right])
    wrong = [p for i, c in enumerate(choices) if i != right and (p := _pattern(c))]
    if answer is None:
        return []
    q_stems = set(content_stems(question["question_sentence"]))
    positives, negatives = [], []
    for result in results:
        text = result.get("text") or ""
        published = _day(result.get("publish_date"))
        in_window = published is not None and \
            -WINDOW_BEFORE <= (published - asked).days <= WINDOW_AFTER
        previous = ""
        for start, end in split_sentences(text):
            sentence = text[start:end].strip()
            before, previous = previous, sentence
            if not MIN_CHARS <= len(sentence) <= MAX_CHARS:
                continue
            found = answer.search(sentence)
            row = {"qid": question["question_id"], "asked": asked.isoformat(),
                   "question": question["question_sentence"], "sentence": sentence,
                   "title": (result.get("title") or "").strip(), "previous": before,
                   "answer": choices[right], "published": published.isoformat()
                   if published else None}
            overlap = len(q_stems & set(content_stems(sentence)))
            if found:
                if in_window and overlap >= min(2, len(q_stems)):
                    positives.append({**row, "label": 1, "kind": "answer",
                                      "span": [found.start(), found.end()]})
                continue  # an accidental mention: left out
            kind = "choice" if any(p.search(sentence) for p in wrong) else "other"
            negatives.append(({**row, "label": 0, "kind": kind, "span": None},
                              (kind == "choice", overlap, rng.random())))
    negatives.sort(key=lambda item: item[1], reverse=True)
    hard = [n for n, _ in negatives[: NEGATIVES_PER_QUESTION // 2]]
    rest = [n for n, _ in negatives[NEGATIVES_PER_QUESTION // 2 :]]
    rng.shuffle(rest)
    return positives + hard + rest[: NEGATIVES_PER_QUESTION - len(hard)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("rtqa", type=Path, help="a checkout of realtimeqa/realtimeqa_public")
    parser.add_argument("out", type=Path, help="the examples file to write (JSONL)")
    args = parser.parse_args()
    rng = random.Random(SEED)
    seen: set[str] = set()
    counts = {"train": [0, 0, 0], "validation": [0, 0, 0]}  # questions, positives, negatives
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w") as out:
        for quiz, results_file in weeks(args.rtqa):
            results = {}
            for line in results_file.read_text().splitlines():
                if line.strip():
                    row = json.loads(line)
                    results[row["question_id"]] = row.get("search_result") or []
            for line in quiz.read_text().splitlines():
                if not line.strip():
                    continue
                question = json.loads(line)
                qid = question["question_id"]
                if qid in seen or qid not in results:
                    continue
                seen.add(qid)
                rows = examples_of(question, results[qid], rng)
                if not rows:
                    continue
                split = "validation" if date.fromisoformat(rows[0]["asked"]) >= \
                    VALIDATION_FROM else "train"
                c = counts[split]
                c[0] += 1
                for row in rows:
                    c[1] += row["label"]
                    c[2] += 1 - row["label"]
                    out.write(json.dumps({**row, "split": split}, ensure_ascii=False) + "\n")
    for split, (q, p, n) in counts.items():
        print(f"{split}: {q} questions, {p} positive and {n} negative sentences")


if __name__ == "__main__":
    main()
