"""Trains the reading model's span head: over the tokens of a (question, sentence) pair, where
the answer starts and where it ends, so that "which city" is answered by the words the
sentence gives for it, not by the first place name in it.

The shipped reader (``assistant/models/reader.safetensors``) is read as it is and stays as it
is: the head reads its last hidden states (``--layers 0``: a linear layer, 770 numbers) or
its own copies of the top ``--layers`` layers, started from the reader's. The rows are the
positive sentences of ``build_examples.py`` (RealTime QA 2022-2023, the answer's span given)
and of ``squad_examples.py`` (the answer's first occurrence in its sentence); the validation
split is the examples' own (weeks from 2023-10-01).

    .venv-train/bin/python scripts/reader/train_span.py data/reader/examples-squad.jsonl \\
        --out data/reader/span1

Writes ``span.safetensors`` (fp16: ``span.weight`` 2 x 384, ``span.bias``, and the copied
layers as ``span_layer.N.*``) and ``run.json`` (every figure, size and SHA-256).
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import random
import time
from pathlib import Path

import numpy as np
import torch
from examples import SEED
from safetensors.torch import save_file
from train import (
    MAX_TOKENS,
    ROOT,
    _additive,
    _layer,
    cache_lower,
    load_reader,
    lower_states,
    model_dir,
    span_loss,
    span_targets,
    stack,
)
from transformers import AutoTokenizer, BertModel

MAX_SPAN = 12  # tokens; longer answers are names of events, titles, rarely asked


def positives(path: Path) -> tuple[list[dict], list[dict]]:
    """The answering rows of the examples: training and validation."""
    train, validation = [], []
    for line in path.read_text().splitlines():
        row = json.loads(line)
        if row["label"]:
            (validation if row["split"] == "validation" else train).append(row)
    return train, validation


Spans = list[tuple[int, int]]


def encode(tokenizer: AutoTokenizer, rows: list[dict]
           ) -> tuple[list[list[int]], Spans, Spans]:
    """Token ids, the answer's (first, last) token (``train.span_targets``), and the
    sentence's token range."""
    enc = tokenizer([r["question"] for r in rows], [r["sentence"] for r in rows],
                    truncation="only_second", max_length=MAX_TOKENS)
    ranges = []
    for i in range(len(rows)):
        toks = [t for t, s in enumerate(enc.sequence_ids(i)) if s == 1]
        ranges.append((toks[0], toks[-1]) if toks else (0, 0))
    return list(enc["input_ids"]), span_targets(tokenizer, rows), ranges


class SpanHead(torch.nn.Module):
    def __init__(self, bert: BertModel, layers: int) -> None:
        super().__init__()
        self.layers = torch.nn.ModuleList(copy.deepcopy(bert.encoder.layer[-layers:])
                                          if layers else [])
        self.span = torch.nn.Linear(bert.config.hidden_size, 2)

    def forward(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        ext = _additive(mask)
        for layer in self.layers:
            h = _layer(layer, h, ext)
        return self.span(h)  # (batch, tokens, 2)


def best_span(logits: np.ndarray, lo: int, hi: int) -> tuple[int, int]:
    start, end = logits[:, 0], logits[:, 1]
    best, where = -np.inf, (lo, lo)
    for s in range(lo, hi + 1):
        for e in range(s, min(hi, s + MAX_SPAN - 1) + 1):
            v = start[s] + end[e]
            if v > best:
                best, where = v, (s, e)
    return where


def evaluate(head: SpanHead, cached: list[torch.Tensor], spans: list[tuple[int, int]],
             ranges: list[tuple[int, int]]) -> dict[str, float]:
    """exact: the best span is the answer's tokens; f1: token overlap with them."""
    head.eval()
    exact, f1 = [], []
    with torch.no_grad():
        for i, h in enumerate(cached):
            if spans[i][0] < 0:
                continue
            mask = torch.ones(1, h.shape[0], dtype=torch.long)
            logits = head(h.float()[None], mask)[0].numpy()
            s, e = best_span(logits, *ranges[i])
            gs, ge = spans[i]
            exact.append(float((s, e) == (gs, ge)))
            overlap = max(0, min(e, ge) - max(s, gs) + 1)
            if overlap:
                p, r = overlap / (e - s + 1), overlap / (ge - gs + 1)
                f1.append(2 * p * r / (p + r))
            else:
                f1.append(0.0)
    return {"exact": float(np.mean(exact)), "f1": float(np.mean(f1)), "n": len(exact)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("examples", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "reader" / "span")
    parser.add_argument("--reader", type=Path,
                        default=ROOT / "assistant" / "models" / "reader.safetensors")
    parser.add_argument("--layers", type=int, default=0, help="copied top layers trained")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--head-lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    started = time.time()
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    train, validation = positives(args.examples)
    where = model_dir()
    tokenizer = AutoTokenizer.from_pretrained(where)
    bert = BertModel.from_pretrained(where, add_pooling_layer=False, attn_implementation="eager")
    load_reader(bert, args.reader)
    bert.eval()
    for p in bert.parameters():
        p.requires_grad = False
    head = SpanHead(bert, args.layers)
    upto = bert.config.num_hidden_layers - args.layers
    train_seqs, train_spans, _ = encode(tokenizer, train)
    val_seqs, val_spans, val_ranges = encode(tokenizer, validation)
    keep = [i for i, s in enumerate(train_spans) if s[0] >= 0]
    t0 = time.time()
    def lower(ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return lower_states(bert, ids, mask, upto)

    train_h = cache_lower(lower, [train_seqs[i] for i in keep])
    val_h = cache_lower(lower, val_seqs)
    targets = torch.tensor([train_spans[i] for i in keep])
    print(f"{len(keep)} training rows, {len(val_h)} validation; states in "
          f"{time.time() - t0:.0f} s", flush=True)
    optimiser = torch.optim.AdamW(
        [{"params": head.layers.parameters(), "lr": args.lr},
         {"params": head.span.parameters(), "lr": args.head_lr}], weight_decay=0.01)
    history: list[dict] = []
    best: dict[str, torch.Tensor] | None = None
    for epoch in range(args.epochs):
        head.train()
        order = list(range(len(keep)))
        rng.shuffle(order)
        total, steps = 0.0, 0
        for b in range(0, len(order), args.batch):
            batch = order[b : b + args.batch]
            h, mask = stack([train_h[i] for i in batch])
            loss = span_loss(head(h, mask), mask, targets[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += loss.item()
            steps += 1
        figures = evaluate(head, val_h, val_spans, val_ranges)
        history.append({"epoch": epoch + 1, "loss": total / steps, **figures})
        print(history[-1], flush=True)
        if best is None or figures["f1"] > max(h["f1"] for h in history[:-1]):
            best = {f"span_layer.{k}": v.detach().to(torch.float16).contiguous()
                    for k, v in head.layers.state_dict().items()}
            best |= {f"span.{k}": v.detach().to(torch.float16).contiguous()
                     for k, v in head.span.state_dict().items()}
    args.out.mkdir(parents=True, exist_ok=True)
    artefact = args.out / "span.safetensors"
    assert best is not None
    save_file(best, str(artefact), metadata={"layers": str(args.layers),
                                             "reader": hashlib.sha256(
                                                 args.reader.read_bytes()).hexdigest()})
    row = {"date": time.strftime("%Y-%m-%d"), "train_rows": len(keep),
           "validation_rows": len(validation), "layers": args.layers, "epochs": args.epochs,
           "seed": args.seed, "final": max(history, key=lambda h: h["f1"]),
           "history": history, "wall_s": round(time.time() - started),
           "sha256": hashlib.sha256(artefact.read_bytes()).hexdigest(),
           "bytes": artefact.stat().st_size}
    (args.out / "run.json").write_text(json.dumps(row, indent=1))
    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
