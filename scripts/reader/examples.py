"""The reading model's examples and validation figures, shared by training (PyTorch) and the
check of the shipped ONNX model (``evaluate.py``, the assistant's own environment)."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import numpy as np

SEED = 13
POSITIVES, HARD, RANDOM = 3, 5, 3  # per training question


def second_segment(row: dict, title: bool, previous: bool = False) -> str:
    """What the reader reads beside the question: the sentence, after its article's title
    (``--title``) or the sentence before it (``--previous``): a sentence often names its
    story only by reference ("the new world champ")."""
    if title and row.get("title"):
        return f"{row['title']}: {row['sentence']}"
    if previous and row.get("previous"):
        return f"{row['previous']} {row['sentence']}"
    return str(row["sentence"])


def load(path: Path) -> tuple[list[dict], list[dict]]:
    """Training rows (subsampled per question, fixed seed) and every validation row."""
    rng = random.Random(SEED)
    by_question: dict[str, list[dict]] = {}
    validation = []
    for line in path.read_text().splitlines():
        row = json.loads(line)
        if row["split"] == "validation":
            validation.append(row)
        else:
            by_question.setdefault(row["qid"], []).append(row)
    train = []
    for rows in by_question.values():
        pos = [r for r in rows if r["label"]]
        neg = [r for r in rows if not r["label"]]  # hardest first, as the builder wrote them
        rest = neg[HARD:]
        rng.shuffle(rest)
        train += pos[:POSITIVES] + neg[:HARD] + rest[:RANDOM]
    rng.shuffle(train)
    return train, validation


def metrics(rows: list[dict], score: np.ndarray) -> dict[str, float]:
    """first: share of answerable questions whose best-scored sentence holds the answer;
    auc: how well a question's best score tells answerable from unanswerable ones;
    keep@90: answerable questions kept when the threshold abstains on 90 % of the others."""
    by_q: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        by_q.setdefault(r["qid"], []).append(i)
    first, best_pos, best_neg = [], [], []
    for idx in by_q.values():
        top = max(idx, key=lambda i: score[i])
        has = any(rows[i]["label"] for i in idx)
        best = float(score[top])
        if has:
            first.append(rows[top]["label"])
            best_pos.append(best)
        else:
            best_neg.append(best)
    pos, neg = np.array(best_pos), np.array(best_neg)
    auc = float(np.mean([(p > neg).mean() + 0.5 * (p == neg).mean() for p in pos])) \
        if len(pos) and len(neg) else math.nan
    cut = float(np.quantile(neg, 0.9)) if len(neg) else math.inf
    return {"first": float(np.mean(first)), "auc": auc,
            "keep@90": float((pos > cut).mean()) if len(pos) else math.nan,
            "answerable": len(pos), "unanswerable": len(neg)}
