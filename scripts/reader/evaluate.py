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

from assistant.embedding import LocalEmbedder
from assistant.reading import WEIGHTS, ReadingModel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("examples", type=Path)
    parser.add_argument("--weights", type=Path, default=WEIGHTS)
    args = parser.parse_args()
    _, validation = load(args.examples)
    by_question: dict[str, list[int]] = {}
    for i, row in enumerate(validation):
        by_question.setdefault(row["question"], []).append(i)
    model = ReadingModel(args.weights)
    started = time.perf_counter()
    read = np.zeros(len(validation), dtype=np.float32)
    for question, idx in by_question.items():
        read[idx] = model.score(question, [validation[i]["sentence"] for i in idx])
    per_pair = (time.perf_counter() - started) / len(validation) * 1000
    embedder = LocalEmbedder()
    cos = np.zeros(len(validation), dtype=np.float32)
    for question, idx in by_question.items():
        vectors = embedder.embed([question] + [validation[i]["sentence"] for i in idx])
        cos[idx] = vectors[1:] @ vectors[0]
    print(json.dumps({"reader": metrics(validation, read), "cosine": metrics(validation, cos),
                      "reader_ms_per_pair": round(per_pair, 2)}, indent=1))


if __name__ == "__main__":
    main()
