"""The shipped reading model (ONNX, as the assistant runs it) on the validation split of the
examples, beside the MiniLM cosine the product ranks by today: it must reproduce the figures
the training run logged.

    .venv/bin/python scripts/reader/evaluate.py data/reader/examples.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from examples import load, metrics

from assistant.answer.reading import WEIGHTS, ReadingModel
from assistant.index.embedding import LocalEmbedder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("examples", type=Path)
    parser.add_argument("--weights", type=Path, default=WEIGHTS)
    args = parser.parse_args()
    _, validation = load(args.examples)
    started = time.perf_counter()
    read, cos = both_scores(validation, ReadingModel(args.weights), LocalEmbedder())
    per_pair = (time.perf_counter() - started) / len(validation) * 1000
    print(json.dumps({"reader": metrics(validation, read), "cosine": metrics(validation, cos),
                      "ms_per_pair_both": round(per_pair, 2)}, indent=1))


def both_scores(rows: list[dict], model: ReadingModel, embedder: LocalEmbedder
                ) -> tuple[np.ndarray, np.ndarray]:
    """Each row's reading-model logit and its question-sentence MiniLM cosine, one question's
    sentences at a time."""
    by_question: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        by_question.setdefault(row["question"], []).append(i)
    read = np.zeros(len(rows), dtype=np.float32)
    cos = np.zeros(len(rows), dtype=np.float32)
    for question, idx in by_question.items():
        texts = [rows[i]["sentence"] for i in idx]
        read[idx] = model.score(question, texts)
        vectors = embedder.embed([question, *texts])
        cos[idx] = vectors[1:] @ vectors[0]
    return read, cos


if __name__ == "__main__":
    main()
