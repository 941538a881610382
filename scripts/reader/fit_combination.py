"""Fit the answer combination (assistant/answer/combination.py) on the dev sets.

    .venv/bin/python scripts/reader/fit_combination.py collect --index-dir /tmp/dev/base \
        --conflicts-index-dir /tmp/dev/conflicts data/reader/dev_features.jsonl
    .venv/bin/python scripts/reader/fit_combination.py fit data/reader/dev_features.jsonl [--write]

``collect`` asks every dev question the way the product does (scope, retrieval, the
answerer's reading of the retrieved sentences, each news question on its ``asked_on`` day)
and writes each read sentence's features with its label: it holds one of the fixture's
answers (news, seeds; either version of a contradicting pair) or is part of its evidence
quote (essays), in an article the fixture names or (news) one dated 10 days before to 3
days after the question. The contradicting pairs are asked of a store of their own. Unanswerable
questions' sentences are all negative. The store must hold the news dev articles, the
essays and the seeds (docs/tuning.md).

``fit`` fits a logistic regression (L2, Newton's method) on the sentences of the tuning part
(every set but the held-out news weeks of scripts/tune_news.py), scores each news week, each
fifth of the essays and the seeds with negatives by a model fitted without them (grouped
cross-validation), prints ranking and abstention figures per set for each feature set tried
and the calibration table, and chooses the abstention threshold on the cross-validated
probabilities. ``--write`` writes the weights fitted on the whole tuning part and that
threshold to assistant/models/combination.json; ``--no-window-threshold`` gives questions
whose days the store holds no report of (essays, the contradicting pairs, old articles asked
about today) their own, chosen on whole answers (docs/tuning.md: the sentence-level figures
here cannot see the answerer's other rules). The held-out weeks only confirm.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from tune_news import HOLDOUT_WEEKS, SHARED  # noqa: E402

from assistant.answer.combination import FEATURES, FITTED  # noqa: E402
from assistant.config import Settings  # noqa: E402
from assistant.evaluation.scoring import Fixture, load_fixtures  # noqa: E402
from assistant.runtime import Runtime  # noqa: E402

L2 = 1e-2
FEATURE_SETS = {
    "meaning and words": ("semantic", "lexical"),
    "meaning, words, reader": ("semantic", "lexical", "reading"),
    "all six": FEATURES,
}
CHOSEN = "all six"


def dev_sets() -> dict[str, list[Fixture]]:
    news = SHARED / "corpora" / "news_dev"
    return {
        "news": load_fixtures(news / "fixtures.jsonl"),
        "background": load_fixtures(news / "fixtures_background.jsonl"),
        "essays": load_fixtures(SHARED / "corpora" / "pg_essays" / "fixtures_dev.jsonl"),
        "seeds": load_fixtures(ROOT / "tests" / "data" / "seeds_dev.jsonl"),
        "negatives": load_fixtures(ROOT / "tests" / "data" / "negatives_dev.jsonl"),
    }


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def label(fixture: Fixture, sentence: str, article_id: str, day: str | None) -> int:
    if not fixture.answerable:
        return 0
    named = article_id in fixture.sources
    if fixture.asked_on and day and not named:
        asked = date.fromisoformat(fixture.asked_on)
        named = ((asked - timedelta(days=10)).isoformat() <= day
                 <= (asked + timedelta(days=3)).isoformat())
    if not named:
        return 0
    if fixture.answers:
        return int(any(re.search(r"(?<!\w)" + re.escape(a) + r"(?!\w)", sentence, re.I)
                       for alias in fixture.answers for a in alias))
    if fixture.quote:
        words, quote = _words(sentence), set(_words(fixture.quote))
        return int(bool(words) and sum(w in quote for w in words) >= 0.6 * len(words))
    return 0


def conflict_pairs() -> list[Fixture]:
    """The contradicting pairs as fixtures: both versions are answers, each in its own
    article (a sentence stating either is a positive)."""
    path = SHARED / "corpora" / "conflicts_dev" / "fixtures.jsonl"
    return [Fixture(id=d["id"], question=d["question"], sources=d["sources"],
                    answers=[d["answer"] + d["fakeanswer"]])
            for d in map(json.loads, path.open())]


def collect(index_dir: str, conflicts_dir: str, out: Path) -> None:
    runtime = Runtime.open(Settings.load(index_dir=index_dir, llm="extractive"))
    runtime.retriever.refresh()
    pairs = Runtime.open(Settings.load(index_dir=conflicts_dir, llm="extractive"))
    pairs.ingest([SHARED / "corpora" / "conflicts_dev" / "articles.jsonl"])
    pairs.retriever.refresh()
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w") as f:
        for name, fixtures in [*dev_sets().items(), ("conflicts", conflict_pairs())]:
            runtime_ = pairs if name == "conflicts" else runtime
            answerer = runtime_.extractive
            for fx in fixtures:
                today = date.fromisoformat(fx.asked_on) if fx.asked_on else date.today()
                generation, _ = runtime_.store.state()
                scope = runtime_.scope(fx.question, None, today, generation)
                # The days retrieval favours are the ones the answerer reads against.
                favoured = runtime_.days_about(scope, today)
                vector, hits = runtime_._retrieve(scope.topic, None, scope.filters, generation,
                                                 favoured, settled=True)
                cands, _, _ = answerer.score(scope.topic, vector, hits)
                read, rows, _ = answerer.features(
                    cands, list(dict.fromkeys(h.article_id for h in hits)), favoured)
                f.write(json.dumps({
                    "set": name, "id": fx.id, "week": fx.asked_on or "",
                    "holdout": fx.asked_on in HOLDOUT_WEEKS, "answerable": fx.answerable,
                    "absent": bool(runtime_._absent(scope.topic)),
                    "x": [[round(float(v), 5) for v in row] for row in rows],
                    "y": [label(fx, c.text, c.hit.article_id, c.hit.date) for c in read],
                }) + "\n")
            print(f"collected {name}: {len(fixtures)} questions", flush=True)


def fit_logistic(x: np.ndarray, y: np.ndarray, weight: np.ndarray | None = None
                 ) -> np.ndarray:
    """Weights with the bias last, by Newton's method on the L2-penalised log loss, each
    sentence's loss counted ``weight`` times."""
    a = np.column_stack([x, np.ones(len(x))])
    s = np.ones(len(x)) if weight is None else weight
    w = np.zeros(a.shape[1])
    penalty = L2 * np.eye(a.shape[1])
    penalty[-1, -1] = 0.0
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-(a @ w)))
        grad = a.T @ (s * (p - y)) + penalty @ w
        hess = (a * (s * p * (1 - p))[:, None]).T @ a + penalty
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


def part_of(q: dict[str, Any]) -> str:
    return q["set"] if q["set"] in ("news", "essays", "conflicts") else "seeds and negatives"


def group_of(q: dict[str, Any], index: int) -> str:
    if q["set"] == "news":
        return "news " + q["week"]
    if q["set"] in ("essays", "conflicts"):
        return f"{q['set']} {index % 5}"
    return f"seeds and negatives {index % 4}"


def cross_validated(questions: list[dict[str, Any]], rows: list[np.ndarray],
                    labels: list[np.ndarray]) -> list[np.ndarray]:
    """Each question's probabilities for its ``rows`` from a model fitted on the other
    groups' rows and ``labels`` (each part weighing the same)."""
    groups = [group_of(q, i) for i, q in enumerate(questions)]
    out: list[np.ndarray] = [np.zeros(0)] * len(questions)
    for g in sorted(set(groups)):
        train = [i for i, h in enumerate(groups) if h != g and len(rows[i])]
        w = fit_logistic(*_stacked(questions, rows, labels, train))
        for i, h in enumerate(groups):
            if h == g:
                out[i] = _probability(rows[i], w)
    return out


def _stacked(questions: list[dict[str, Any]], rows: list[np.ndarray],
             labels: list[np.ndarray], members: list[int]
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = np.concatenate([rows[i] for i in members])
    y = np.concatenate([labels[i] for i in members])
    parts = [part_of(questions[i]) for i in members for _ in range(len(rows[i]))]
    count = {p: parts.count(p) for p in set(parts)}
    weight = np.array([len(parts) / (len(count) * count[p]) for p in parts])
    return x, y, weight


def _probability(rows: np.ndarray, w: np.ndarray) -> np.ndarray:
    if not len(rows):
        return np.zeros(0)
    return np.asarray(1.0 / (1.0 + np.exp(-(rows @ w[:-1] + w[-1]))))


def lead_rows(questions: list[dict[str, Any]], columns: list[int],
              sentence: list[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per question, the features of its best sentence by ``sentence`` probabilities (the
    sentence the answer would lead with) and whether the question is answerable; none for
    a question with no read sentence or with a word no article holds (it abstains
    before any score)."""
    rows, labels = [], []
    for q, p in zip(questions, sentence, strict=True):
        if not len(p) or q["absent"]:
            rows.append(np.zeros((0, len(columns))))
            labels.append(np.zeros(0))
            continue
        rows.append(np.asarray(q["x"])[[int(np.argmax(p))]][:, columns])
        labels.append(np.array([float(q["answerable"])]))
    return rows, labels


def figures(questions: list[dict[str, Any]], sentence: list[np.ndarray],
            answer: list[np.ndarray], threshold: float) -> dict[str, Any]:
    """first: answerable questions with a labelled sentence whose best sentence is one;
    auc: the answer probability, answerable against unanswerable questions; answered /
    false answers: shares of answerable / unanswerable questions whose answer probability
    reaches ``threshold``; right: share of the answered answerable ones whose best
    sentence is labelled."""
    def best(a: np.ndarray) -> float:
        return float(a[0]) if len(a) else 0.0

    trio = list(zip(questions, sentence, answer, strict=True))
    labelled = [(q, s) for q, s, _ in trio if q["answerable"] and any(q["y"])]
    first = [q["y"][int(np.argmax(s))] for q, s in labelled]
    pos = [best(a) for q, _, a in trio if q["answerable"]]
    neg = [best(a) for q, _, a in trio if not q["answerable"]]
    answered = [q["y"][int(np.argmax(s))] for q, s, a in trio
                if q["answerable"] and best(a) >= threshold]
    auc = (float(np.mean([(a > b) + 0.5 * (a == b) for a in pos for b in neg]))
           if pos and neg else None)
    return {"n": len(questions), "labelled": len(labelled),
            "first": float(np.mean(first)) if first else None, "auc": auc,
            "answered": len(answered) / len(pos) if pos else None,
            "right": float(np.mean(answered)) if answered else None,
            "false answers": sum(b >= threshold for b in neg) / len(neg) if neg else None}


def fmt(v: Any) -> str:
    return "–" if v is None else f"{v:.3f}" if isinstance(v, float | np.floating) else str(v)


COLUMNS = ("n", "labelled", "first", "auc", "answered", "right", "false answers")


def choose_threshold(questions: list[dict[str, Any]], sentence: list[np.ndarray],
                     answer: list[np.ndarray]) -> float:
    """The threshold with the best mean, over the news, the essays and the seeds with our
    negatives, of the share of answerable questions answered less the share of
    unanswerable ones answered: each part weighs the same, whatever its size."""
    grid = np.round(np.arange(0.05, 0.96, 0.01), 2)
    parts: dict[str, list[int]] = {}
    for i, q in enumerate(questions):
        parts.setdefault(part_of(q), []).append(i)

    def gain(t: float) -> float:
        total = 0.0
        for m in parts.values():
            f = figures([questions[i] for i in m], [sentence[i] for i in m],
                        [answer[i] for i in m], t)
            total += (f["answered"] or 0.0) - (f["false answers"] or 0.0)
        return total / len(parts)

    return float(max(grid, key=gain))


def fit(path: Path, write: bool, no_window: float | None) -> None:
    questions = [json.loads(line) for line in path.open()]
    tuning = [q for q in questions if not q["holdout"] and q["set"] != "background"]
    confirm = {"news, held-out weeks": [q for q in questions
                                        if q["holdout"] and q["set"] == "news"],
               "news background (no target)": [q for q in questions
                                               if q["set"] == "background"]}
    names = ("news", "essays", "conflicts", "seeds", "negatives")
    print("| features | set | " + " | ".join(COLUMNS) + " |")
    print("| --- | --- | " + " | ".join("---" for _ in COLUMNS) + " |")
    for label_, feature_names in FEATURE_SETS.items():
        columns = [FEATURES.index(n) for n in feature_names]
        rows = [np.asarray(q["x"])[:, columns] if q["x"] else np.zeros((0, len(columns)))
                for q in tuning]
        labels = [np.asarray(q["y"], dtype=float) for q in tuning]
        sentence = cross_validated(tuning, rows, labels)
        leads, answerable = lead_rows(tuning, columns, sentence)
        answer = cross_validated(tuning, leads, answerable)
        threshold = choose_threshold(tuning, sentence, answer)
        for name in names:
            m = [i for i, q in enumerate(tuning) if q["set"] == name]
            f = figures([tuning[i] for i in m], [sentence[i] for i in m],
                        [answer[i] for i in m], threshold)
            print(f"| {label_}, cross-validated, threshold {threshold:.2f} | {name} | "
                  + " | ".join(fmt(f[k]) for k in COLUMNS) + " |")
        w_sentence = fit_logistic(*_stacked(tuning, rows, labels, list(range(len(tuning)))))
        final = [_probability(r, w_sentence) for r in rows]
        leads, answerable = lead_rows(tuning, columns, final)
        w_answer = fit_logistic(*_stacked(tuning, leads, answerable,
                                          [i for i, r in enumerate(leads) if len(r)]))
        for name, qs in confirm.items():
            qrows = [np.asarray(q["x"])[:, columns] if q["x"] else np.zeros((0, len(columns)))
                     for q in qs]
            s_probs = [_probability(r, w_sentence) for r in qrows]
            q_leads, _ = lead_rows(qs, columns, s_probs)
            f = figures(qs, s_probs, [_probability(r, w_answer) for r in q_leads], threshold)
            print(f"| {label_}, fitted on the tuning part, threshold {threshold:.2f} | {name} | "
                  + " | ".join(fmt(f[k]) for k in COLUMNS) + " |")
        for which, w in (("sentence", w_sentence), ("answer", w_answer)):
            named = dict(zip(feature_names, np.round(w[:-1], 3).tolist(), strict=True))
            print(f"  ({label_}: {which} weights {named}, bias {w[-1]:.3f})")
        if label_ == CHOSEN:
            chosen = (w_sentence, w_answer, threshold, sentence, answer)
    w_sentence, w_answer, threshold, sentence, answer = chosen
    print("\nCalibration (cross-validated, the chosen features): questions answered at an "
          "answer probability >= t")
    print("| t | set | answered | right | false answers |")
    print("| --- | --- | --- | --- | --- |")
    for t in sorted({0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, threshold}):
        for name in names:
            m = [i for i, q in enumerate(tuning) if q["set"] == name]
            f = figures([tuning[i] for i in m], [sentence[i] for i in m],
                        [answer[i] for i in m], t)
            mark = " (chosen)" if t == threshold else ""
            print(f"| {t:.2f}{mark} | {name} | {fmt(f['answered'])} | {fmt(f['right'])} | "
                  f"{fmt(f['false answers'])} |")
    if write:
        def model(w: np.ndarray) -> dict[str, Any]:
            return {"weights": [round(float(v), 5) for v in w[:-1]],
                    "bias": round(float(w[-1]), 5)}

        FITTED.write_text(json.dumps({
            "features": list(FEATURES), "sentence": model(w_sentence),
            "answer": {**model(w_answer), "threshold": threshold,
                       "threshold_no_window": threshold if no_window is None else no_window},
            "fitted": {"on": "news dev (tuning weeks), essays, conflicts, seeds, negatives",
                       "questions": len(tuning),
                       "sentences": int(sum(len(q["y"]) for q in tuning)),
                       "command": "scripts/reader/fit_combination.py fit "
                       "data/reader/dev_features.jsonl --write"
                       + ("" if no_window is None else f" --no-window-threshold {no_window}")},
        }, indent=1) + "\n")
        print(f"wrote {FITTED}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("collect")
    c.add_argument("--index-dir", required=True)
    c.add_argument("--conflicts-index-dir", required=True,
                   help="a store for the contradicting pairs (ingested if new)")
    c.add_argument("out", type=Path)
    f = sub.add_parser("fit")
    f.add_argument("features", type=Path)
    f.add_argument("--write", action="store_true")
    f.add_argument("--no-window-threshold", type=float,
                   help="the threshold for questions whose days the store holds no report of, "
                   "chosen on the answers end to end (docs/tuning.md); default: the fitted one")
    args = parser.parse_args()
    if args.command == "collect":
        collect(args.index_dir, args.conflicts_index_dir, args.out)
    else:
        fit(args.features, args.write, args.no_window_threshold)


if __name__ == "__main__":
    main()
