"""The extractive answerer: no generative model, every sentence of the answer is a quote.

It reads the most promising sentences of the retrieved chunks with the reading model (a
cross-encoder trained on news questions, ``reading``) and scores each as the probability that
it answers the question, fitted on the dev sets from its meaning (cosine to the question),
its words (share of the question's content words it holds), the reader's logit, its report's
date and its article's rank (``combination``). It keeps the best few, folds a sentence that
repeats a fact already chosen from another article into that fact's citations (so the answer
says who else reported it), and abstains when no sentence reaches the fitted threshold.
A question asking for a name, place, number or date ("which city", "how many") is answered
first with that phrase, verbatim from the cited sentence: the kind is read from the
question's form (``entities.answer_kind``), and for a noun no entity label stands for
("which sport") from the phrases the embedding model places near it.
Because the answer is made of the articles' own sentences, an article that says "ignore
previous instructions" is just another sentence to score: there is nothing to steer.

This module scores the sentences and assembles the answer; its judgements live beside it:
``typed`` (the phrase of the asked kind), ``naming`` (which articles name what the question
names), ``versions`` (one fact or two versions of it), ``numbered`` (another of a series),
and ``tuning`` holds the settings that are not fitted.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import date

import numpy as np

from assistant.answer.combination import Combination, feature_rows
from assistant.answer.model import Answer, Citation, Conflict
from assistant.answer.naming import Corpus, NameCheck
from assistant.answer.numbered import another_of_series, numbered
from assistant.answer.reading import ReadingModel
from assistant.answer.reports import Reported, annotate_weekdays, find_conflicts
from assistant.answer.sentences import Candidate, SentenceVectors, candidates
from assistant.answer.tuning import ExtractiveTuning
from assistant.answer.typed import PhraseReader, direct_phrase
from assistant.answer.versions import Versions, version_sources
from assistant.index.embedding import Embedder
from assistant.index.records import Hit
from assistant.query.entities import (
    NAME,
    WHEN,
    Entity,
    EntityTagger,
    answer_kind,
    asked_noun,
    asks_for_a_name,
)
from assistant.query.scope import days_about
from assistant.text import content_stems, coverage, fold, has_stem, key_weights, stems, unquoted

__all__ = ["ABSTAIN_TEXT", "ExtractiveAnswerer", "ExtractiveTuning", "candidates"]

_FOOTNOTE = re.compile(r"\[\d{1,3}\]")
_YEAR = re.compile(r"\b((?:19|20)\d\d)\b")
ABSTAIN_TEXT = "The articles don't say. None of the ingested articles answers this question."
# A quote is marked as answering (``Citation.supported``) at this probability that its
# sentence answers: chosen on the dev sets' citations (scripts/calibrate_support.py,
# docs/tuning.md, fourteenth round).
ANSWERS_AT = 0.3


class ExtractiveAnswerer:
    mode = "extractive"

    def __init__(self, embedder: Embedder, reader: ReadingModel,
                 combination: Combination, tuning: ExtractiveTuning | None = None,
                 tagger: EntityTagger | None = None, corpus: Corpus | None = None) -> None:
        """``embedder``: embeds the retrieved sentences, to be compared with the question's
        vector and each other (the runtime's ``sentence_embedder``); ``reader`` and
        ``combination``: the reading model and the fitted weights that
        turn a sentence's evidence into its score (``combination``); ``tagger``: without
        one, no kind of phrase is read and no name is required; ``corpus``: the store
        read beyond the retrieved passages (``naming.Corpus``: without it, only they are
        read, and a window of days is held when a retrieved report is dated in it)."""
        self.reader = reader
        self.combination = combination
        self.tuning = tuning or ExtractiveTuning()
        self.vectors = SentenceVectors(embedder)
        self.tagger = tagger
        self.phrases = (PhraseReader(tagger, self.vectors, self.tuning)
                        if tagger is not None else None)
        self.names = (NameCheck(tagger, self.tuning, corpus)
                      if tagger is not None else None)
        self.versions = Versions(tagger, self.tuning)
        self.corpus = corpus

    def score(self, question: str, query_vector: np.ndarray, hits: list[Hit]
              ) -> tuple[list[Candidate], np.ndarray, set[str]]:
        """Scored candidates, their vectors, and the question's focus keys."""
        cands = candidates(hits)
        if not cands:
            return [], np.zeros((0, 1)), set()
        keys = content_stems(question)
        sentence_stems = [set(stems(c.text)) for c in cands]
        weights, credit = key_weights(keys, sentence_stems)
        passage_stems = {h.chunk_id: set(stems(h.text)) for h in hits}
        t = self.tuning
        for cand, own in zip(cands, sentence_stems, strict=True):
            cand.lexical = coverage(keys, own, weights, passage_stems[cand.hit.chunk_id], credit)
            cand.stems = own
        # Embedding and reading the sentences is most of an answer's time: only the most
        # promising `embed_budget` (by lexical evidence, then retrieval order) are read; the
        # rest are never quoted.
        ranked = sorted(range(len(cands)), key=lambda i: -cands[i].lexical)
        chosen = sorted(ranked[: t.embed_budget]) if t.embed_budget else list(range(len(cands)))
        vecs = np.zeros((len(cands), len(query_vector)), dtype=np.float32)
        if chosen:
            vecs[chosen] = self.vectors.get([cands[i] for i in chosen])
            logits = self.reader.score(question, [cands[i].text for i in chosen])
            for i, logit in zip(chosen, logits, strict=True):
                cands[i].reading = float(logit)
        for cand, sim in zip(cands, vecs @ query_vector, strict=True):
            cand.semantic = float(sim)
        # The focus: the most telling keys that the passages do contain ("cyber" in "what did
        # X and Y agree on cyber?"). Every sentence after the first must hold one of them.
        present = [k for k in keys if any(has_stem(k, own) for own in sentence_stems)]
        top = max((weights[k] for k in present), default=0.0)
        focus = {k for k in present if weights[k] >= t.focus_share * top}
        return cands, vecs, focus

    def asked_days(self, favoured: tuple[str, str] | None, today: date | None
                   ) -> tuple[str, str] | None:
        """The ISO days a question is about: those it names (``favoured``), else, a news
        question that names no time asking about now, the asker's last fortnight."""
        return days_about(favoured, today, self.tuning.asker_days)

    def features(self, cands: list[Candidate], retrieved: list[str],
                 favoured: tuple[str, str] | None
                 ) -> tuple[list[Candidate], np.ndarray, bool]:
        """The read sentences, their rows of ``combination.FEATURES``, and whether the store
        holds reports of the asked days. ``retrieved``: the articles, best first;
        ``favoured``: the ISO days the question is about (``asked_days``). A report
        counts as from other days only when the store holds reports of those days: one
        that holds nothing of them (essays, last year's articles asked about today) is
        read on its merits."""
        read = [c for c in cands if c.reading is not None]
        ranks = {a: n for n, a in enumerate(retrieved)}
        lo, hi = favoured or ("", "")

        def inside(c: Candidate) -> bool:
            return bool(c.hit.date and lo <= c.hit.date <= hi)

        window_held = bool(favoured) and (self.corpus.holds_days(lo, hi) if self.corpus
                                          else any(inside(c) for c in cands))
        rows = feature_rows(
            [c.semantic for c in read], [c.lexical for c in read],
            [c.reading or 0.0 for c in read],
            [window_held and not inside(c) for c in read],
            [ranks[c.hit.article_id] for c in read], not window_held)
        return read, rows, window_held

    def rate(self, cands: list[Candidate], retrieved: list[str],
             favoured: tuple[str, str] | None) -> float:
        """Each read sentence's two fitted probabilities (``combination``): that it answers
        (``score``, which orders them) and that the question is answered if it leads
        (``answers``, which the bars are on); a sentence that was not read has 0 for both
        and is never quoted. Returns the threshold the answer is held to."""
        read, rows, window_held = self.features(cands, retrieved, favoured)
        model = self.combination
        for c, p, a in zip(read, model.sentence.probability(rows),
                           model.answer.probability(rows), strict=True):
            c.score, c.answers = float(p), float(a)
        return model.threshold_for(window_held)

    def quote_support(self, question: str, query_vector: np.ndarray, quote: Hit
                      ) -> tuple[float, bool]:
        """Whether ``quote`` (a peer's) answers the question, as our quotes are marked: its
        best sentence's probability, read as the only article retrieved, no days asked."""
        cands, _, _ = self.score(question, query_vector, [quote])
        self.rate(cands, [quote.article_id], None)
        best = round(max((c.score for c in cands if c.reading is not None), default=0.0), 3)
        return best, best >= ANSWERS_AT

    def passages(self, question: str, query_vector: np.ndarray, hits: list[Hit],
                 favoured: tuple[str, str] | None, today: date | None, n: int) -> list[Hit]:
        """The ``n`` sentences the reader rates best, as sources for a language model: in
        retrieval's order of their articles and each article's own order, neighbours of one
        chunk joined into one passage, each passage verbatim with its article offsets."""
        cands, _, _ = self.score(question, query_vector, hits)
        retrieved = list(dict.fromkeys(h.article_id for h in hits))
        self.rate(cands, retrieved, self.asked_days(favoured, today))
        best = sorted((c for c in cands if c.reading is not None), key=lambda c: -c.score)[:n]
        rank = {a: i for i, a in enumerate(retrieved)}
        best.sort(key=lambda c: (rank[c.hit.article_id], c.start))
        # A passage is cut from its chunk: the chunk's stored sentence spans do not fit it
        # (``sentences=()``), and whoever reads it splits it again.
        out: list[Hit] = []
        for c in best:
            chunk = c.hit
            last = out[-1] if out else None
            if (last is not None and last.chunk_id == chunk.chunk_id and last.end <= c.start
                    and not chunk.text[last.end - chunk.start : c.start - chunk.start].strip()):
                out[-1] = replace(last, text=chunk.text[last.start - chunk.start
                                                         : c.end - chunk.start], end=c.end)
            else:
                out.append(replace(chunk, text=c.text, start=c.start, end=c.end, sentences=()))
        return out

    def answer(self, question: str, query_vector: np.ndarray, hits: list[Hit],
               prefer_recent: bool = False, absent: Sequence[str] = (),
               favoured: tuple[str, str] | None = None, today: date | None = None
               ) -> Answer:
        """``absent``: words of the question that no chunk of the store holds;
        ``favoured``: the ISO date window a relative phrase names ("this week");
        ``today``: the asker's day."""
        t = self.tuning
        if absent:
            # A word of the question that no article of the store holds ("rice"): whatever
            # else matches, the articles cannot say anything about it.
            said = ", ".join(f"“{w}”" for w in absent)
            return Answer(question=question, abstained=True, mode=self.mode, retrieved=hits,
                          answer=f"The articles don't say. No ingested article mentions {said}.",
                          confidence=0.0)
        cands, vecs, focus = self.score(question, query_vector, hits)
        # No candidate at all, however alike it reads: a sentence about another of the
        # series the question names one of ("the 2014 World Cup final" for "the final in
        # 2018", "the fourth season" for "season 3"), and, when the question names a window
        # ("this week", "recently", "in 2018"), a sentence every year of which is long
        # before it ("Later in 2020, three states ...", "on Aug. 13, 1944").
        series = numbered(question, whole=True)
        before = int(favoured[0][:4]) - t.past_years if t.past_years and favoured else None
        keep = [i for i, c in enumerate(cands)
                if not another_of_series(series, c.text)
                and (before is None or not _dated_before(c.text, before))]
        if len(keep) < len(cands):
            cands, vecs = [cands[i] for i in keep], vecs[keep]
        keys = set(content_stems(question))
        favoured = self.asked_days(favoured, today)
        retrieved = list(dict.fromkeys(h.article_id for h in hits))  # articles, best first
        threshold = self.rate(cands, retrieved, favoured)
        if prefer_recent and cands:
            # "latest" / "most recent": among sentences that answer, the newest report wins.
            good = [c for c in cands if c.answers >= threshold and c.hit.date]
            newest = max((c.hit.date or "" for c in good), default="")
            for c in cands:
                if newest and c.hit.date == newest:
                    c.score += t.recency_bonus
        kind = (answer_kind(question) if self.phrases is not None
                and t.kind_tagged else None)
        # "What is the name of ...": a proper name answers, whatever the embedding model
        # places near the noun ("HoloLens" is not near "Microsoft's AR headset").
        noun = (asked_noun(question) if kind == NAME
                and not asks_for_a_name(question) else None)
        phrases, weight, close = (self.phrases.typed(question, cands, kind, noun)
                                  if kind and self.phrases is not None else ({}, {}, {}))
        order = sorted(range(len(cands)), key=lambda i: -cands[i].score)
        if self.names is not None:
            order = self.names.keep(question, cands, order)
        everything = list(order)  # supporting sentences need not hold a phrase of the kind
        if kind:
            # A "who / which city / how many" question is answered only by a sentence that
            # holds a phrase of that kind which the question does not already hold.
            order = [i for i in order if phrases.get(i)]
        if kind and (not order or cands[order[0]].answers < threshold):
            # No sentence names a phrase of the asked kind: an account may still answer
            # ("which beer" answered by "Guinness said ..."), but only a clearly strong one.
            bar = threshold + t.untyped_margin * (1.0 - threshold)
            strong = [i for i in everything if cands[i].answers >= bar]
            if strong:
                kind, order, phrases = None, strong, {}
        confidence = cands[order[0]].answers if order else 0.0
        if not order or confidence < threshold:
            return Answer(question=question, answer=ABSTAIN_TEXT, abstained=True,
                          mode=self.mode, retrieved=hits, confidence=confidence)
        best = cands[order[0]].score
        cutoff = max(t.floor, best * t.relative_cutoff)
        direct = (direct_phrase(cands, order, phrases, cutoff, prefer_person="PERSON" in kind
                                and len(kind) > 1, weight=weight, close=close,
                                prefer_day=kind == WHEN)
                  if kind else None)
        if direct is not None:
            # The sentence that states the direct answer leads; the best of the others,
            # whether or not they name anything of the asked kind, support it.
            order = [direct[0]] + [i for i in everything if i != direct[0]]
        # Further facts come from the articles retrieval ranked first, or the best sentence's
        # own article; a sentence from further down must nearly match the best one.
        lead_articles = retrieved[: t.lead_articles]
        lead_articles.append(cands[order[0]].hit.article_id)
        facts: list[list[int]] = []  # each fact: the candidate indexes that state it
        for i in order:
            if cands[i].score < cutoff and facts:
                break
            same = next((f for f in facts
                         if self.versions.same_fact(cands, vecs, f[0], i, keys)), None)
            if same is not None:
                # A second article reporting the same fact becomes a second citation,
                # whatever its article's rank: who else reported it is what it adds.
                if all(cands[j].hit.article_id != cands[i].hit.article_id for j in same):
                    same.append(i)
                continue
            if (cands[i].hit.article_id not in lead_articles
                    and cands[i].score < t.outsider_share * best):
                continue
            if facts and focus and not any(has_stem(k, cands[i].stems) for k in focus):
                continue
            if (direct is not None and facts and phrases.get(i)
                    and fold(direct[1].text) not in fold(cands[i].text)):
                continue  # another answer of the asked kind: a rival, shown as one below
            if len(facts) < (t.max_sentences if direct is None else t.typed_sentences):
                facts.append([i])
        rivals = (self.versions.rival_answers(cands, vecs, phrases, facts, direct, threshold)
                  if direct and direct[1].label != "NOUN" else [])
        if direct is not None and not rivals and self.phrases is not None:
            fuller = self.phrases.full_name(question, cands, direct)
            if fuller is not None:
                # The full name leads, cited to the sentence of the same article that has it.
                direct = fuller
                facts = [f for f in facts if fuller[0] not in f]
                facts.insert(0, [fuller[0]])
        facts += [[i] for i, _ in rivals]
        facts += self.versions.disagreements(cands, vecs, facts)
        return self._compose(question, hits, cands, vecs, facts, confidence, direct, rivals)

    def _compose(self, question: str, hits: list[Hit],
                 cands: list[Candidate], vecs: np.ndarray, facts: list[list[int]],
                 confidence: float, direct: tuple[int, Entity] | None = None,
                 rivals: Sequence[tuple[int, Entity]] = ()) -> Answer:
        cited = [i for f in facts for i in f]
        missing = [i for i in cited if not vecs[i].any()]
        if missing:  # every quote is compared with the others by its own vector (figures)
            vecs[missing] = self.vectors.get([cands[i] for i in missing])
        citations: list[Citation] = []
        number: dict[int, int] = {}
        reported: list[Reported] = []
        parts = []
        for fact in facts:
            marks = []
            for i in fact:
                c = cands[i]
                # The quote is the sentence itself: its mark says whether it answers the
                # question, in the model's probability.
                score = round(c.score, 3)
                answers = score >= ANSWERS_AT
                citations.append(Citation(
                    n=len(citations) + 1, article_id=c.hit.article_id, title=c.hit.title,
                    date=c.hit.date, source=c.hit.source, quote=c.text, start=c.start,
                    end=c.end, supported=answers, url=c.hit.url, support_score=score,
                    verdict="supported" if answers else "weak",
                ))
                number[i] = len(citations)
                reported.append(Reported(c.text, c.hit.article_id, c.hit.source,
                                         len(citations), vecs[i]))
                marks.append((len(citations), c.hit.source))
            lead = cands[fact[0]]
            # An article's own footnote marks ("[1]") would read as our citations.
            sentence = " ".join(_FOOTNOTE.sub(" ", lead.text).split())
            sentence = annotate_weekdays(sentence, lead.hit.date)
            outlets = list(dict.fromkeys(src for _, src in marks if src))
            if len(outlets) > 1:
                by = " and ".join(
                    f"{src} " + "".join(f"[{n}]" for n, s in marks if s == src)
                    for src in outlets)
                parts.append(f"{sentence.rstrip('.')} — reported by {by}.")
            else:
                parts.append(f"{sentence} " + "".join(f"[{n}]" for n, _ in marks))
        figures = [Conflict(topic, claims) for topic, claims in find_conflicts(reported)]
        # One fact told with other names: listed after the facts.
        reworded = ([] if rivals
                    else self.versions.name_conflicts(cands, facts, number, question))
        named: list[Conflict] = []  # a rival answer of the asked kind: stated first
        if direct is not None:
            i, phrase = direct
            if rivals:
                j, other = rivals[0]
                versions = [(unquoted(phrase.text), [number[i]]),
                            (unquoted(other.text), [number[j]])]
                named.append(Conflict(f"{question.rstrip('?')} (the reports differ)",
                                      versions))
                labels = version_sources(citations, [nums for _, nums in versions])
                head = "; ".join(f"{label} gives {text} [{nums[0]}]"
                                 for label, (text, nums) in zip(labels, versions, strict=True))
                parts.insert(0, f"The reports differ: {head}.")
            else:
                parts.insert(0, f"{unquoted(phrase.text)} [{number[i]}].")
        # A disagreement on names that also reads as differing figures is listed once.
        shown = {n for c in named + reworded for _, ns in c.claims for n in ns}
        figures = [c for c in figures if not shown & {n for _, ns in c.claims for n in ns}]
        for conflict in reworded + figures:
            labels = version_sources(citations, [nums for _, nums in conflict.claims])
            versions_text = "; ".join(
                f"{label} gives {text} " + "".join(f"[{n}]" for n in nums)
                for label, (text, nums) in zip(labels, conflict.claims, strict=True))
            parts.append(f"The reports differ: {versions_text}.")
        return Answer(question=question, answer=" ".join(parts), abstained=False,
                      mode=self.mode, citations=citations, retrieved=hits,
                      conflicts=named + reworded + figures, confidence=confidence)


def _dated_before(text: str, year: int) -> bool:
    """The text names years, and none after ``year``."""
    years = [int(y) for y in _YEAR.findall(text)]
    return bool(years) and max(years) <= year


