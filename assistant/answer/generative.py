"""The openai answerer: numbered sources in delimiters, a model that cites them, and our own
check of every sentence afterwards (``citations.check_claims``).

What the user is shown, decided here: only the sentences a quote supports. A sentence that
cites nothing, cites a source that does not exist, or whose quote does not back it (another
figure, another name, too little of its content) is left out of the answer and listed in
``Answer.left_out`` with the reason, which every surface shows under the answer. Leaving out
beats marking: a reader skims, and a marked sentence is still read as the answer. When no
sentence is left, the extractive answer (or its abstention) is given instead, with one line
saying the model's answer could not be checked. Where the model's kept sentences leave out a
fact the extractive reader quotes, that quote joins the answer after them, cited (a small
model often answers part of a question well); where the model says the articles don't say
and the extractive reader is confident they do, its answer is given, with a note. Prompt
markup and chat-template tokens are removed before anything is shown, also while streaming
(``StreamCleaner``)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import replace

from assistant.answer.citations import NameChecker, check_claims, clean_model_text
from assistant.answer.model import Answer, Citation, Conflict
from assistant.answer.reports import Reported, find_conflicts
from assistant.index.embedding import Embedder
from assistant.index.records import Hit
from assistant.llm.client import ChatModel
from assistant.prompts import render
from assistant.text import content_stems, coverage, stems

_ABSTAIN = re.compile(
    r"\A\W*(the )?(articles?|sources?) (do not|don't|does not|doesn't) (say|answer|mention)",
    re.IGNORECASE,
)
ABSTAIN_TEXT = "The articles don't say."
# A quote of the extractive answer (at most its few sentences) joins a model's answer unless
# this share of its content words is already in the model's kept sentences (the same fact).
SAID_ALREADY = 0.6
# A model that says the articles don't say is overruled by an extractive answer whose
# probability of answering (``Answer.confidence``) is at least this: on the seeds, essays and
# our negatives every extractive answer this sure answers an answerable question, and every
# false one is below it (0.32-0.61; docs/llm.md). Below it the model's abstention stands.
OVERRULES_ABSTENTION = 0.7
# How many of the reader's best sentences a model on this machine's CPU reads instead of
# the chunks: the same facts on the seeds in half the time (docs/llm.md).
LOCAL_MODEL_SENTENCES = 8
ABSTAINED_NOTE = ("The model found no answer in the passages; the extractive reader did, "
                  "and its quotes are given instead.")
UNCHECKED_NOTE = ("The model's answer could not be checked against the articles, so the "
                  "passages that answer the question are quoted instead.")


class StreamCleaner:
    """Model text as it streams, without markup: text that might still become a tag
    ("<sour…", "<|im_…") is held back until it is complete."""

    def __init__(self) -> None:
        self.raw = ""
        self.shown = ""

    def feed(self, delta: str) -> str:
        self.raw += delta
        held = self.raw
        cut = max(held.rfind("<"), held.rfind("["))
        if cut >= 0 and ">" not in held[cut:] and "]" not in held[cut:] and \
                len(held) - cut < 40:
            held = held[:cut]
        visible = clean_model_text(held)
        # Echoed lines vanish only once they are whole: never show a line before its end.
        if "\n" in held and not held.endswith("\n"):
            visible = clean_model_text(held[: held.rfind("\n")])
        if not visible.startswith(self.shown):
            return ""  # the cleaner changed its mind about earlier text: wait for the end
        new, self.shown = visible[len(self.shown):], visible
        return new


def _attr(value: str | None) -> str:
    return (value or "unknown").replace('"', "'").replace("\n", " ")


def sources_block(hits: list[Hit]) -> str:
    blocks = []
    for n, hit in enumerate(hits, start=1):
        # An article cannot close our delimiter early: its own tags are neutralised.
        text = re.sub(r"</?\s*(source|sources)\b", lambda m: m.group(0).replace("<", "‹"),
                      hit.text, flags=re.IGNORECASE)
        blocks.append(render("source", n=n, outlet=_attr(hit.source), date=_attr(hit.date),
                             title=_attr(hit.title), text=text))
    return "\n".join(blocks)


class GenerativeAnswerer:
    mode = "openai"

    def __init__(self, chat: ChatModel, embedder: Embedder,
                 names: NameChecker | None = None, sentences: int = 0) -> None:
        """``sentences``: how many of the sentences the reader rates best the model reads
        (``ExtractiveAnswerer.passages``) in place of the retrieved chunks; 0: the chunks."""
        self.sentences = sentences
        self.chat = chat
        self.embedder = embedder
        self.names = names

    def messages(self, question: str, hits: list[Hit]) -> list[tuple[str, str]]:
        return [
            ("system", render("answer_system")),
            ("user", render("answer_user", sources=sources_block(hits), question=question)),
        ]

    def raw_stream(self, question: str, hits: list[Hit]) -> Iterator[str]:
        """The model's own text as it arrives, markup and all."""
        if not hits:
            yield ABSTAIN_TEXT
            return
        yield from self.chat.stream(self.messages(question, hits))

    def stream(self, question: str, hits: list[Hit], raw: list[str] | None = None
               ) -> Iterator[str]:
        """The model's text as it arrives, without markup (markers still source numbers);
        the raw deltas are appended to ``raw`` when given."""
        cleaner = StreamCleaner()
        for delta in self.raw_stream(question, hits):
            if raw is not None:
                raw.append(delta)
            shown = cleaner.feed(delta)
            if shown:
                yield shown

    def finish(self, question: str, hits: list[Hit], raw: str,
               fallback: Callable[[], Answer] | None = None) -> Answer:
        """The answer to show for a complete raw model answer: its supported sentences with
        verified citations; ``fallback()`` (the extractive answer) when none is left."""
        text = clean_model_text(raw)
        if not hits or not text or _ABSTAIN.match(text):
            instead = fallback() if hits and fallback is not None else None
            if (instead is not None and not instead.abstained
                    and (instead.confidence or 0.0) >= OVERRULES_ABSTENTION):
                return replace(instead, mode=self.mode, fallback=instead.mode,
                               notes=[ABSTAINED_NOTE, *instead.notes])
            return Answer(question=question, answer=ABSTAIN_TEXT, abstained=True,
                          mode=self.mode, retrieved=hits)
        checked, notes = check_claims(text, hits, self.embedder, self.names)
        kept = [c for c in checked if c.supported]
        left_out = [(c.text, "; ".join(c.problems)) for c in checked if not c.supported]
        if not kept:
            if fallback is None:
                return Answer(question=question, answer=ABSTAIN_TEXT, abstained=True,
                              mode=self.mode, retrieved=hits, left_out=left_out,
                              notes=[UNCHECKED_NOTE, *notes], fallback="abstained")
            instead = fallback()
            return replace(instead, mode=self.mode, left_out=left_out, fallback=instead.mode,
                           notes=[UNCHECKED_NOTE, *notes, *instead.notes])
        citations: list[Citation] = []
        parts = []
        for claim in kept:
            marks = ""
            for c in claim.citations:
                if c.supported:
                    citations.append(replace(c, n=len(citations) + 1))
                    marks += f"[{len(citations)}]"
            parts.append(f"{claim.text} {marks}")
        joined = self._join(parts, citations, [c.text for c in kept],
                            fallback() if fallback is not None else None)
        if joined:
            notes.append(f"{joined} fact{'s' if joined > 1 else ''} the model's answer left "
                         "out, quoted from the articles by the extractive reader")
        attributed = sum(c.attributed for c in kept)
        if attributed:
            notes.append(f"{attributed} sentence{'s' if attributed > 1 else ''} of the model's "
                         f"answer cited no source; the check found the quote that supports "
                         f"{'them' if attributed > 1 else 'it'}")
        if left_out:
            notes.append(f"{len(left_out)} sentence{'s' if len(left_out) > 1 else ''} of the "
                         "model's answer left out: no quote supports "
                         f"{'them' if len(left_out) > 1 else 'it'}")
        vectors = self.embedder.embed([c.quote for c in citations])
        reported = [Reported(c.quote, c.article_id, c.source, c.n, v)
                    for c, v in zip(citations, vectors, strict=True)]
        conflicts = [Conflict(topic, claims) for topic, claims in find_conflicts(reported)]
        return Answer(question=question, answer=" ".join(parts), abstained=False,
                      mode=self.mode, citations=citations, retrieved=hits, notes=notes,
                      conflicts=conflicts, left_out=left_out)

    @staticmethod
    def _join(parts: list[str], citations: list[Citation], said: list[str],
              extractive: Answer | None) -> int:
        """Appends to ``parts`` and ``citations`` the extractive answer's quotes that the
        model's kept sentences (``said``) do not state; returns how many."""
        if extractive is None or extractive.abstained:
            return 0
        words = set(stems(" ".join(said)))
        joined = 0
        for c in extractive.citations:
            if not c.supported or any(
                    c.article_id == m.article_id and c.start < m.end and m.start < c.end
                    for m in citations):
                continue
            if coverage(content_stems(c.quote), words) >= SAID_ALREADY:
                continue
            citations.append(replace(c, n=len(citations) + 1))
            parts.append(f"{' '.join(c.quote.split())} [{len(citations)}]")
            words |= set(stems(c.quote))
            joined += 1
        return joined

    def answer(self, question: str, hits: list[Hit],
               fallback: Callable[[], Answer] | None = None, **_: object) -> Answer:
        raw: list[str] = []
        for _delta in self.stream(question, hits, raw):
            pass
        return self.finish(question, hits, "".join(raw), fallback)
