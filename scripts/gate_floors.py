"""Sets the CI quality gate's floors (tests/data/eval_thresholds.json) from a measured run.

    .venv/bin/python -m pytest tests/test_eval.py     # writes reports/eval_gate.json
    .venv/bin/python scripts/gate_floors.py

Each floor is the measured share less a margin that grows as the set shrinks, so that the
gate fails on a regression, not on the noise of a small set:

    floor = p - 2 * sqrt(p * (1 - p) / n) - 1 / (2 * n)

p is the share the run measured and n the number of questions it is a share of: every
question for abstention, the answerable ones for the rest (a citation share is a mean over
the answered questions, most of them answerable). The first term is two standard errors of
a share over n questions: a set of 6 questions allows more than one of 40. The second, half
a question, absorbs the rounding of a share over n; a share measured at 1.0 stays a hard
floor (losing one question fails), as the seeds' "every fact" target wants. Floors are
rounded down to two decimals.

The news gate set (tests/data/news_subset) holds only the news dev weeks that no tuning
reads (scripts/tune_news.py's HOLDOUT_WEEKS). The essays, seeds and negatives sets are
tuning sets (there is no untouched part of them): their floors guard against regressions of
what was tuned, no more. A product target is a floor whatever the margin (``TARGETS``: the
seeds' every fact).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MEASURED = ROOT / "reports" / "eval_gate.json"
FLOORS = ROOT / "tests" / "data" / "eval_thresholds.json"

# The metrics each set is gated on, and what each is a share of.
GATED = {
    "seeds_dev": ["retrieval.hit@5", "answer.fact_recall", "citations.precision",
                  "citations.supported", "abstention.accuracy"],
    "pg_essays_dev": ["retrieval.hit@5", "retrieval.mrr", "retrieval.evidence_recall",
                      "citations.precision", "citations.supported", "abstention.accuracy"],
    "negatives_dev": ["abstention.accuracy"],
    "news_subset": ["retrieval.hit@5", "retrieval.mrr", "answer.fact_recall",
                    "citations.precision", "citations.supported", "abstention.accuracy"],
}


# Targets the product states, not estimates: kept as floors whatever a run's margin allows.
TARGETS = {"seeds_dev": {"answer.fact_recall": 1.0}}


def items(questions: dict[str, int], key: str) -> int:
    """The questions a share is over, of those the gate counted for its set."""
    if key.startswith("abstention."):
        return questions["all"]
    return max(1, questions["answerable"])


def floor(p: float, n: int) -> float:
    margin = 2 * math.sqrt(p * (1 - p) / n) + 1 / (2 * n)
    return max(0.0, math.floor((p - margin) * 100) / 100)


def main() -> None:
    measured = json.loads(MEASURED.read_text())
    out: dict[str, dict[str, float]] = {}
    for name, keys in GATED.items():
        ours, questions = measured[name]["ours"], measured[name]["questions"]
        out[name] = {}
        for key in keys:
            group, metric = key.split(".")
            p = ours[group][metric]
            if p is not None:
                out[name][key] = max(floor(float(p), items(questions, key)),
                                     TARGETS.get(name, {}).get(key, 0.0))
    FLOORS.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
