"""General reading data for the reading model: SQuAD 2.0 questions as (question, sentence)
examples in ``build_examples.py``'s format, to add to RealTime QA's training rows.

Source: the public repository PhongNTDo/guide_train_MRC_transformers, ``train-v2.0.json``
(a 4,719-question subset of SQuAD 2.0's training set, CC BY-SA 4.0), commit 631a448de427:

    git clone https://github.com/PhongNTDo/guide_train_MRC_transformers /tmp/squad
    .venv/bin/python scripts/reader/squad_examples.py /tmp/squad/train-v2.0.json \\
        data/reader/examples.jsonl data/reader/examples-squad.jsonl

Each question's paragraph is split into sentences (the assistant's own splitter): the
sentence holding the answer span is positive, the others negative, ordered by the question's
words they share (hardest first, as ``examples.load`` expects); a question SQuAD marks
impossible keeps only negatives. Every row is a training row: the validation split stays
RealTime QA's own weeks. The output holds the RealTime QA rows first, unchanged.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from assistant.ingest.chunking import split_sentences
from assistant.text import content_stems, stems


def rows_of(squad: dict) -> list[dict]:
    out = []
    for article in squad["data"]:
        for paragraph in article["paragraphs"]:
            context = paragraph["context"]
            spans = split_sentences(context)
            for qa in paragraph["qas"]:
                keys = set(content_stems(qa["question"]))
                starts = {a["answer_start"] for a in qa.get("answers", [])}
                answer = qa["answers"][0]["text"] if qa.get("answers") else None
                labelled = []
                for s, e in spans:
                    holds = not qa.get("is_impossible") and any(s <= a < e for a in starts)
                    shared = len(keys & set(stems(context[s:e])))
                    labelled.append((holds, shared, context[s:e]))
                labelled.sort(key=lambda x: (not x[0], -x[1]))
                out += [{"qid": f"squad-{qa['id']}", "question": qa["question"],
                         "sentence": text, "answer": answer, "label": int(holds),
                         "kind": "other", "span": None, "split": "train"}
                        for holds, _, text in labelled]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("squad", type=Path)
    parser.add_argument("realtimeqa", type=Path, help="build_examples.py's output")
    parser.add_argument("out", type=Path)
    parser.add_argument("--questions", type=int, default=0,
                        help="keep this many SQuAD questions, drawn with seed 13 (0: all)")
    args = parser.parse_args()
    rows = rows_of(json.loads(args.squad.read_text()))
    if args.questions:
        ids = sorted({r["qid"] for r in rows})
        kept = set(random.Random(13).sample(ids, min(args.questions, len(ids))))
        rows = [r for r in rows if r["qid"] in kept]
    with args.out.open("w", encoding="utf-8") as f:
        f.write(args.realtimeqa.read_text())
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    questions = len({r["qid"] for r in rows})
    print(f"{questions} SQuAD questions, {sum(r['label'] for r in rows)} positive and "
          f"{sum(not r['label'] for r in rows)} negative sentences")


if __name__ == "__main__":
    main()
