"""Fit the choice of the direct answer (assistant/answer/choice.py) on RealTime QA 2022-2023.

    .venv/bin/python scripts/reader/fit_phrases.py collect --index-dir /tmp/s42/seeds \
        data/reader/examples.jsonl data/reader/phrase_rows.jsonl
    .venv/bin/python scripts/reader/fit_phrases.py fit data/reader/phrase_rows.jsonl [--write]

``collect`` reads each 2022-2023 question whose search results hold its answer the way the
product reads retrieved passages (``data/reader/examples.jsonl``, built by
``build_examples.py``; the results of one day are one article, in the order the search gave
them): the reading model and the fitted combination score the sentences, the tagger finds
the phrases of the asked kind, and ``choice.phrase_rows`` makes their rows. A phrase is
labelled by whether it is the week's answer (one holds the other's words). The store named
by ``--index-dir`` only provides the models; none of its articles is read.

``fit`` fits the weights with a softmax over each question's phrases (L2, Newton's method),
prints the share of questions whose answer is chosen, cross-validated over ten folds of the
weeks, next to the hand-set votes the model replaces (``rules``, the reader before it), for
each feature set tried, and ``--write`` writes the weights of the chosen set fitted on all
of them to assistant/models/phrases.json. Only questions of which some phrase is the answer
count.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from tune_news import news_split  # noqa: E402

from assistant.answer.choice import FEATURES, FITTED, Phrases, person_first, phrase_rows  # noqa: E402
from assistant.answer.extractive import ExtractiveAnswerer  # noqa: E402
from assistant.answer.sentences import Candidate  # noqa: E402
from assistant.config import Settings  # noqa: E402
from assistant.entities import (  # noqa: E402
    NAME,
    WHEN,
    Entity,
    answer_kind,
    asked_noun,
    asks_for_a_name,
    fold,
)
from assistant.runtime import Runtime  # noqa: E402
from assistant.store import Hit  # noqa: E402
from assistant.text import content_stems  # noqa: E402

L2 = 1e-2
FEATURE_SETS = {
    "sentence only": ("lead", "first"),
    "sentence, agreement, kind": ("lead", "first", "agreement", "other_kind", "bare_year"),
    "all but position": tuple(f for f in FEATURES if f != "position"),
    "all but position, length": tuple(f for f in FEATURES if f not in ("position", "length")),
    "all": FEATURES,
}
CHOSEN = "all"


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", fold(text)))


def is_answer(phrase: str, answer: str) -> bool:
    """The phrase names the answer: it holds all of the answer's words, or the answer
    holds all of its own and at least half of the answer's ("Biden" for "Joe Biden")."""
    p, a = _words(phrase), _words(answer)
    return bool(p and a) and (a <= p or (p <= a and 2 * len(p) >= len(a)))


def rules_choice(cands: list[Candidate], order: list[int], phrases: Phrases, cutoff: float,
                 prefer_person: bool, prefer_day: bool, weight: dict[str, float],
                 close: dict[int, dict[Entity, float]]) -> str | None:
    """The hand-set votes the fitted choice replaced (answer/typed.py at 5fdd000), kept here
    as the reference row: the best sentence's phrase counts whole, agreement a quarter, a
    phrase not of the kind's first choice 0.6, a bare year 0 where a day is given, times the
    closeness to the asked noun and to the question's words."""
    from assistant.answer.choice import _BARE_YEAR, _DAY
    votes: dict[str, float] = {}
    prefer_day = prefer_day and any(_DAY.search(e.text) for i in order
                                    if cands[i].score >= cutoff for e in phrases[i])
    for i in order:
        if cands[i].score < cutoff:
            break
        near_words: dict[str, float] = {}
        labels: dict[str, str] = {}
        for e in phrases[i]:
            name = fold(e.text)
            labels.setdefault(name, e.label)
            near_words[name] = max(near_words.get(name, 0.0), close.get(i, {}).get(e, 1.0))
        nearest = max(near_words.values(), default=1.0)
        near_words = {n: v / nearest for n, v in near_words.items()}
        for name, label in labels.items():
            share = 1.0 if name not in votes else 0.25
            preferred = 0.6 if prefer_person and label != "PERSON" else 1.0
            if prefer_day and _BARE_YEAR.fullmatch(name):
                preferred = 0.0
            near = weight.get(name, 1.0) if weight else 1.0
            votes[name] = (votes.get(name, 0.0) + share * preferred * near
                           * near_words[name] * cands[i].score)
    if not votes:
        return fold(phrases[order[0]][0].text)
    return max(votes, key=lambda n: votes[n])


def questions(path: Path) -> dict[str, list[dict[str, Any]]]:
    by_question: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in path.open():
        row = json.loads(line)
        by_question[row["qid"]].append(row)
    return {q: rows for q, rows in by_question.items() if any(r["label"] for r in rows)}


def hits_of(qid: str, rows: list[dict[str, Any]]) -> list[Hit]:
    """One article per publication day of the question's results, in the order given."""
    days: dict[str, list[str]] = defaultdict(list)
    for r in rows:
        if r["sentence"] != r["question"]:
            days[r["published"] or ""].append(r["sentence"])
    out = []
    for n, (day, sentences) in enumerate(days.items()):
        text = " ".join(sentences)
        out.append(Hit(chunk_id=f"{qid}-{n}", article_id=f"{qid}-{n}", text=text, start=0,
                       end=len(text), score=0.0, title="", date=day or None, source=None,
                       url=None))
    return out


def read(answerer: ExtractiveAnswerer, question: str, hits: list[Hit], today: date,
         favoured: tuple[str, str] | None, answers: list[str]) -> dict[str, Any] | None:
    """The phrase rows the answerer makes for ``question`` over ``hits``, labelled by
    ``answers``, and the index of the phrase the hand-set votes chose; None when the
    question asks for no kind of phrase or no good sentence holds one."""
    phrases_reader = answerer.phrases
    assert phrases_reader is not None
    t = answerer.tuning
    kind = answer_kind(question)
    if not kind:
        return None
    vector = answerer.embedder.embed([question])[0]
    cands, _, _ = answerer.score(question, vector, hits)
    favoured = answerer.asked_days(favoured, today)
    answerer.rate(cands, list(dict.fromkeys(h.article_id for h in hits)), favoured)
    noun = asked_noun(question) if kind == NAME and not asks_for_a_name(question) else None
    phrases, weight, close = phrases_reader.typed(question, cands, kind, noun)
    order = [i for i in sorted(range(len(cands)), key=lambda i: -cands[i].score)
             if phrases.get(i)]
    if not order:
        return None
    cutoff = max(t.floor, cands[order[0]].score * t.relative_cutoff)
    person, day = person_first(kind), kind == WHEN
    table = phrase_rows(cands, order, phrases, cutoff, set(content_stems(question)),
                        prefer_person=person, prefer_day=day, weight=weight, close=close)
    names = [fold(e.text) for _, e in table.chosen]
    rules = rules_choice(cands, order, phrases, cutoff, person, day, weight, close)
    return {"kind": sorted(kind),
            "x": [[round(float(v), 5) for v in row] for row in table.rows],
            "y": [int(any(is_answer(e.text, a) for a in answers)) for _, e in table.chosen],
            "rules": names.index(rules) if rules in names else 0}


def collect(index_dir: str, examples: Path, out: Path) -> None:
    runtime = Runtime.open(Settings.load(index_dir=index_dir, llm="extractive"))
    written = 0
    with out.open("w") as f:
        for qid, rows in questions(examples).items():
            first = rows[0]
            row = read(runtime.extractive, first["question"], hits_of(qid, rows),
                       date.fromisoformat(first["asked"]), None, [first["answer"]])
            if row is not None:
                f.write(json.dumps({"qid": qid, "split": first["split"], **row}) + "\n")
                written += 1
    print(f"wrote {written} questions to {out}")


def collect_dev(index_dir: str, out: Path) -> None:
    """The news dev set's answerable questions of the tuning weeks (never the held-out
    ones), asked of the dev store the way the product asks them: a check of the fit on
    the news it is meant for, not training data."""
    runtime = Runtime.open(Settings.load(index_dir=index_dir, llm="extractive"))
    runtime.retriever.refresh()
    written = 0
    with out.open("w") as f:
        for fx in news_split(False):
            if not fx.answerable or not fx.asked_on:
                continue
            today = date.fromisoformat(fx.asked_on)
            generation, _ = runtime.store.state()
            scope = runtime.scope(fx.question, None, today, generation)
            _, hits = runtime._retrieve(scope.topic, None, scope.filters, generation,
                                        scope.favoured, settled=True)
            row = read(runtime.extractive, scope.topic, hits, today, scope.favoured,
                       [a for alias in fx.answers for a in alias])
            if row is not None:
                f.write(json.dumps({"qid": fx.id, "week": fx.asked_on, **row}) + "\n")
                written += 1
    print(f"wrote {written} questions to {out}")


def fit_softmax(groups: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Weights maximising the L2-penalised log-likelihood of the answer phrases under a
    softmax over each question's phrases (an answer held by several phrases counts once)."""
    w = np.zeros(groups[0][0].shape[1])
    for _ in range(50):
        grad = L2 * w
        hess = L2 * np.eye(len(w))
        for x, y in groups:
            p = np.exp(x @ w - (x @ w).max())
            p /= p.sum()
            target = y / y.sum()
            mean = p @ x
            grad += mean - target @ x
            hess += (x * p[:, None]).T @ x - np.outer(mean, mean)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


def load(path: Path) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in path.open()]
    return [r for r in rows if any(r["y"])]


def hit(q: dict[str, Any], choice: int) -> int:
    return int(q["y"][choice])


def fold_of(q: dict[str, Any]) -> int:
    """Ten folds by the week asked (``qid`` starts with it), so that a week's questions,
    which share their stories, are never both fitted and scored."""
    return int(q["qid"].split("_")[0]) % 10


def fit(path: Path, write: bool) -> None:
    data = load(path)
    print(f"{len(data)} questions with the answer among their phrases; the share whose "
          "answer is chosen, fitted on all (fitted) and scored by a model fitted without "
          "their week's fold (cross-validated)")
    print("| choice | fitted | cross-validated |\n| --- | --- | --- |")
    rules = np.mean([hit(q, q["rules"]) for q in data])
    print(f"| rules (hand-set votes) | {rules:.3f} | {rules:.3f} |")
    for name, names in FEATURE_SETS.items():
        cols = [FEATURES.index(n) for n in names]

        def groups(qs: list[dict[str, Any]], cols: list[int] = cols
                   ) -> list[tuple[np.ndarray, np.ndarray]]:
            return [(np.asarray(q["x"])[:, cols], np.asarray(q["y"], dtype=float)) for q in qs]

        w = fit_softmax(groups(data))
        fitted = np.mean([hit(q, int(np.argmax(x @ w)))
                          for q, (x, _) in zip(data, groups(data), strict=True)])
        held = []
        for k in range(10):
            wk = fit_softmax(groups([q for q in data if fold_of(q) != k]))
            scored = [q for q in data if fold_of(q) == k]
            held += [hit(q, int(np.argmax(x @ wk)))
                     for q, (x, _) in zip(scored, groups(scored), strict=True)]
        print(f"| {name} | {fitted:.3f} | {np.mean(held):.3f} |")
        if name == CHOSEN:
            print("weights:", dict(zip(names, np.round(w, 3).tolist(), strict=True)))
            if write:
                FITTED.write_text(json.dumps({"features": list(FEATURES),
                                              "weights": [round(float(v), 5) for v in w]},
                                             indent=1) + "\n")
                print(f"wrote {FITTED}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("collect-dev")
    d.add_argument("--index-dir", required=True)
    d.add_argument("out", type=Path)
    c = sub.add_parser("collect")
    c.add_argument("--index-dir", required=True)
    c.add_argument("examples", type=Path)
    c.add_argument("out", type=Path)
    f = sub.add_parser("fit")
    f.add_argument("rows", type=Path)
    f.add_argument("--write", action="store_true")
    args = parser.parse_args()
    if args.command == "collect":
        collect(args.index_dir, args.examples, args.out)
    elif args.command == "collect-dev":
        collect_dev(args.index_dir, args.out)
    else:
        fit(args.rows, args.write)


if __name__ == "__main__":
    main()
