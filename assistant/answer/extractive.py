"""The extractive answerer: no generative model, every sentence of the answer is a quote.

It scores each sentence of the retrieved chunks by meaning (cosine to the question with the
same embedding model) and by lexical evidence (share of the question's content words it
holds), keeps the best few, folds a sentence that repeats a fact already chosen from another
article into that fact's citations (so the answer says who else reported it), and abstains
when nothing clears a threshold calibrated on the dev fixtures (docs/tuning.md).
A question asking for a name, place, number or date ("which city", "how many") is answered
first with that phrase, verbatim from the cited sentence: the kind is read from the
question's form (``entities.answer_kind``), and for a noun no entity label stands for
("which sport") from the phrases the embedding model places near it.
Because the answer is made of the articles' own sentences, an article that says "ignore
previous instructions" is just another sentence to score: there is nothing to steer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from ..embedding import Embedder
from ..entities import (
    KIND_WORDS,
    NAME,
    WHEN,
    Entity,
    EntityTagger,
    answer_kind,
    asked_noun,
    asks_for_a_name,
    counted_noun,
    fold,
    kind_matches,
)
from ..news import (
    Reported,
    annotate_weekdays,
    disagreement,
    find_conflicts,
    quantities,
    swapped,
)
from ..store import Hit
from ..text import (
    MONTH_PATTERN,
    content_stems,
    content_terms,
    coverage,
    has_stem,
    key_weights,
    stems,
)
from .citations import ANSWERS_AT, support_score
from .model import Answer, Citation, Conflict
from .numbered import another_of_series, numbered
from .phrases import closeness, new_to, renamed, same_time
from .sentences import Candidate, SentenceVectors, candidates

_FOOTNOTE = re.compile(r"\[\d{1,3}\]")
# Names a passage must hold to answer a question that names them. Not NORP: "American" is
# written "U.S." as often as not.
_NAMED = frozenset({"PERSON", "GPE", "LOC", "FAC"})
_YEAR = re.compile(r"\b((?:19|20)\d\d)\b")
_BARE_YEAR = re.compile(r"(?:in\s+)?(?:19|20)\d\d")
_MONTH = rf"(?:{MONTH_PATTERN})\b\.?"
_DAY = re.compile(rf"\b{_MONTH}\s+\d{{1,2}}\b|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}",
                  re.I)
_ARTICLES = frozenset({"the", "a", "an"})
_WHO_KIND = frozenset({"PERSON", "ORG", "GPE", "NORP"})  # what "who ...?" asks for
Closeness = dict[int, dict[Entity, float]]  # per candidate, each phrase's nearness
ABSTAIN_TEXT = "The articles don't say. None of the ingested articles answers this question."


@dataclass(frozen=True)
class ExtractiveTuning:
    semantic_weight: float = 0.5
    lexical_weight: float = 0.5
    threshold: float = 0.32  # below this best score: abstain (docs/tuning.md)
    relative_cutoff: float = 0.40  # keep sentences scoring at least this share of the best
    floor: float = 0.3  # no sentence below this joins an answer
    max_sentences: int = 4
    lead_articles: int = 1  # further facts come from the first articles retrieved...
    outsider_share: float = 0.8  # ... or must score this share of the best sentence
    embed_budget: int = 12  # sentences embedded per question (0: all); docs/tuning.md
    focus_share: float = 0.75  # keys weighing this share of the heaviest are the focus
    same_fact: float = 0.75  # cosine above which two sentences may state the same fact
    same_words: float = 0.35  # ... and the share of their other content words they share
    same_topic: float = 0.6  # cosine above which differing figures are a disagreement
    recency_bonus: float = 0.1  # "latest": added to the newest report's sentences
    kind_tagged: int = 16  # sentences whose entities are read, best first
    kind_bonus: float = 0.1  # a sentence holding a phrase of the asked kind...
    kind_penalty: float = 0.15  # ... and one that holds none, for "who/which/how many"
    loose_kinds: bool = True  # "which sport" asks for a name (False: for an account)
    rival_days: int = 14  # two answers disagree only in reports this close in time
    untyped_threshold: float = 0.45  # an account answers a "which/who" question above this
    typed_sentences: int = 2  # sentences after a direct answer (with its own, and rivals)
    absent_abstains: bool = True  # a question word that no chunk holds means "don't know"
    names_required: bool = True  # the people and places asked about are in the answering article
    rank_penalty: float = 0.02  # off a sentence's score per article ranked above its own
    window_bonus: float = 0.1  # "this week": added to sentences of reports inside the window
    asker_days: int = 14  # ... and, when the question names no window, the asker's fortnight
    head_typing: bool = True  # "which sport": phrases read against the noun the question names
    head_sentences: int = 3  # ... in this many of the best sentences
    head_similarity: float = 0.3  # ... a phrase this close to the noun is of its kind
    head_phrases: int = 24  # ... of at most this many phrases (names first)
    full_names: bool = True  # a surname answer is given as the article's full form of it
    org_names: bool = True  # organisations (not acronyms) must be named in the article too
    rarest_name_word: bool = True  # a many-word name is held by its rarest word (or initials)
    name_conflicts: bool = True  # one fact told with different names is a disagreement
    closeness: float = 3.0  # a phrase's vote halves at this many words from the question's
    role_words: bool = True  # ... words outside the names it asks about
    days_first: bool = True  # "when": a bare year's vote counts 0.6 of a day's
    rare_share: float = 0.0005  # the question's rarest noun, if in this share of chunks or
    # fewer, must be in the answering article (docs/tuning.md)
    past_years: int = 3  # a window the question names: sentences of years this far before
    series: bool = True  # "the 2018 final": a sentence about the 2014 one does not answer
    own_share: float = 0.75  # a phrase this much the question's own words does not answer it
    untagged_names: bool = True  # proper nouns the NER missed must be in the answering article


class ExtractiveAnswerer:
    mode = "extractive"

    def __init__(self, embedder: Embedder, tuning: ExtractiveTuning | None = None,
                 tagger: EntityTagger | None = None,
                 names_in: Callable[[str, Sequence[str]], bool] | None = None,
                 frequency: Callable[[Sequence[str]], tuple[dict[str, int], int]] | None = None
                 ) -> None:
        """``names_in(article_id, words)``: whether the whole article holds one of the words
        (for ``names_required``; without it only the retrieved passages are read);
        ``frequency(words)``: in how many chunks of the store each word is, and how many
        chunks it holds."""
        self.names_in = names_in
        self.frequency = frequency
        self.embedder = embedder
        self.tuning = tuning or ExtractiveTuning()
        self.vectors = SentenceVectors(embedder)
        self.tagger = tagger

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
        # Embedding the sentences is most of an answer's time: only the most promising
        # `embed_budget` (by lexical evidence, then retrieval order) are embedded; the rest
        # keep a semantic score of 0 and so rarely make an answer.
        ranked = sorted(range(len(cands)), key=lambda i: -cands[i].lexical)
        chosen = sorted(ranked[: t.embed_budget]) if t.embed_budget else list(range(len(cands)))
        vecs = np.zeros((len(cands), len(query_vector)), dtype=np.float32)
        if chosen:
            vecs[chosen] = self.vectors.get([cands[i] for i in chosen])
        for cand, sim in zip(cands, vecs @ query_vector, strict=True):
            cand.semantic = float(sim)
            cand.score = t.semantic_weight * cand.semantic + t.lexical_weight * cand.lexical
        # The focus: the most telling keys that the passages do contain ("cyber" in "what did
        # X and Y agree on cyber?"). Every sentence after the first must hold one of them.
        present = [k for k in keys if any(has_stem(k, own) for own in sentence_stems)]
        top = max((weights[k] for k in present), default=0.0)
        focus = {k for k in present if weights[k] >= t.focus_share * top}
        return cands, vecs, focus

    def answer(self, question: str, query_vector: np.ndarray, hits: list[Hit],
               prefer_recent: bool = False, absent: Sequence[str] = (),
               favoured: tuple[str, str] | None = None, today: date | None = None
               ) -> Answer:
        """``absent``: words of the question that no chunk of the store holds;
        ``favoured``: the ISO date window a relative phrase names ("this week");
        ``today``: the asker's day."""
        t = self.tuning
        if absent and t.absent_abstains:
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
        series = numbered(question, whole=True) if t.series else []
        before = int(favoured[0][:4]) - t.past_years if t.past_years and favoured else None
        keep = [i for i, c in enumerate(cands)
                if not another_of_series(series, c.text)
                and (before is None or not _dated_before(c.text, before))]
        if len(keep) < len(cands):
            cands, vecs = [cands[i] for i in keep], vecs[keep]
        keys = set(content_stems(question))
        if prefer_recent and cands:
            # "latest" / "most recent": among sentences that answer, the newest report wins.
            good = [c for c in cands if c.score >= t.threshold and c.hit.date]
            newest = max((c.hit.date or "" for c in good), default="")
            for c in cands:
                if newest and c.hit.date == newest:
                    c.score += t.recency_bonus
        if favoured is None and today is not None and t.asker_days:
            # A news question that names no time asks about now: between close sentences,
            # the one from a report of the asker's last fortnight (retrieval is not moved).
            favoured = ((today - timedelta(days=t.asker_days)).isoformat(), today.isoformat())
        if favoured and t.window_bonus:
            # A report from the window the question names tells of that week's event; an
            # older one on the same topic, of an earlier one.
            lo, hi = favoured
            for c in cands:
                if c.hit.date and lo <= c.hit.date <= hi:
                    c.score += t.window_bonus
        kind = (answer_kind(question, loose=t.loose_kinds) if self.tagger is not None
                and t.kind_tagged else None)
        base = [c.score for c in cands]  # before the kind of phrase held moves the ranking
        retrieved = list(dict.fromkeys(h.article_id for h in hits))  # articles, best first
        if t.rank_penalty:
            # Retrieval's article ranking is evidence too (several passages, both rankers):
            # between two close sentences, the one from the better-ranked article leads.
            ranks = {a: n for n, a in enumerate(retrieved)}
            for c in cands:
                c.score -= t.rank_penalty * ranks[c.hit.article_id]
        # "What is the name of ...": a proper name answers, whatever the embedding model
        # places near the noun ("HoloLens" is not near "Microsoft's AR headset").
        noun = (asked_noun(question) if kind == NAME and t.head_typing
                and not asks_for_a_name(question) else None)
        phrases, weight, close = (self._typed(question, cands, kind, noun) if kind
                                  else ({}, {}, {}))
        order = sorted(range(len(cands)), key=lambda i: -cands[i].score)
        if t.names_required and self.tagger is not None:
            order = self._naming(question, cands, order)
        everything = list(order)  # supporting sentences need not hold a phrase of the kind
        if kind:
            # A "who / which city / how many" question is answered only by a sentence that
            # holds a phrase of that kind which the question does not already hold.
            order = [i for i in order if phrases.get(i)]
        if kind and (not order or base[order[0]] < t.threshold):
            # No sentence names a phrase of the asked kind: an account may still answer
            # ("which beer" answered by "Guinness said ..."), but only a clearly strong one.
            strong = [i for i in everything if base[i] >= t.untyped_threshold]
            if strong:
                kind, order, phrases = None, strong, {}
        confidence = base[order[0]] if order else 0.0
        if not order or base[order[0]] < t.threshold:
            return Answer(question=question, answer=ABSTAIN_TEXT, abstained=True,
                          mode=self.mode, retrieved=hits, confidence=confidence)
        best = cands[order[0]].score
        cutoff = max(t.floor, best * t.relative_cutoff)
        direct = (self._direct(cands, order, phrases, cutoff, prefer_person="PERSON" in kind
                               and len(kind) > 1, weight=weight, close=close,
                               prefer_day=kind == WHEN and t.days_first)
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
            if (cands[i].hit.article_id not in lead_articles
                    and cands[i].score < t.outsider_share * best):
                continue
            if facts and focus and not any(has_stem(k, cands[i].stems) for k in focus):
                continue
            if (direct is not None and facts and phrases.get(i)
                    and fold(direct[1].text) not in fold(cands[i].text)):
                continue  # another answer of the asked kind: a rival, shown as one below
            same = next((f for f in facts if self._same_fact(cands, vecs, f[0], i, keys)
                         and not self._names_differ(cands[f[0]].text, cands[i].text)), None)
            if same is not None:
                # A second article reporting the same fact becomes a second citation.
                if all(cands[j].hit.article_id != cands[i].hit.article_id for j in same):
                    same.append(i)
                continue
            if len(facts) < (t.max_sentences if direct is None else t.typed_sentences):
                facts.append([i])
        rivals = (self._rival_answers(cands, vecs, phrases, facts, direct)
                  if direct and direct[1].label != "NOUN" else [])
        if direct is not None and t.full_names and not rivals:
            fuller = self._full_name(question, cands, direct)
            if fuller is not None:
                # The full name leads, cited to the sentence of the same article that has it.
                direct = fuller
                facts = [f for f in facts if fuller[0] not in f]
                facts.insert(0, [fuller[0]])
        facts += [[i] for i, _ in rivals]
        facts += self._disagreements(cands, vecs, facts)
        answer = self._compose(question, query_vector, hits, cands, vecs, facts, direct,
                               rivals)
        answer.confidence = confidence
        return answer

    def _naming(self, question: str, cands: list[Candidate], order: list[int]) -> list[int]:
        """The candidates whose article names every person and place the question names
        (in the passages retrieved, else anywhere in it through ``names_in``): a sentence
        about the same topic in an article about someone else does not answer ("what did
        Takaichi and Starmer agree on tariffs?" is not answered by a report on another
        leader's tariffs)."""
        assert self.tagger is not None
        names = [(e.text, e.label) for e in self.tagger.tag([question])[0]
                 if e.label in _NAMED
                 # An acronym ("NFL") is often left out of a report that names the team.
                 or (self.tuning.org_names and e.label == "ORG" and not e.text.isupper())]
        if self.tuning.untagged_names:
            # A name the NER missed is a name still; titles ("President") and acronyms are
            # often left out of a report that names the person or body.
            names += [(n, "ORG") for n in self.tagger.untagged_names(question)
                      if not n.isupper() and n.lower() not in KIND_WORDS]
        words = []
        for name, label in names:
            parts = re.findall(r"[A-Za-z][\w'-]*", name)
            said = {w.lower() for w in parts if len(w) > 2 and w.lower() not in _ARTICLES}
            if (len(said) > 1 and label != "PERSON" and self.frequency is not None
                    and self.tuning.rarest_name_word):
                # "Brandywine Creek State Park" is not named by a report on Rock Creek: of a
                # place's or body's many-word name, the word fewest chunks hold tells it (a
                # person is named by surname alone, whichever word is rarer).
                ordered = sorted(said)
                df = self.frequency(ordered)[0]
                said = {min(ordered, key=lambda w: df.get(w, 0))}
            if len(parts) > 1:  # "World Health Organization" is also "WHO"
                said.add("".join(w[0] for w in parts if w[0].isupper()).lower())
            if said:
                words.append(said)
        if self.tuning.rare_share and self.frequency is not None:
            # The question's rarest noun ("muskrat") names what it is about as a name does
            # (an adjective, "unreasonable", is often said in other words).
            nouns = {e.text.lower().split()[-1] for e in self.tagger.nouns([question])[0]}
            terms = [w for w in content_terms(question).values()
                     if w in nouns and len(w) > 3 and w not in KIND_WORDS]
            if terms:
                df, chunks = self.frequency(terms)
                rarest = min(terms, key=lambda w: df.get(w, 0))
                if 0 < df.get(rarest, 0) <= self.tuning.rare_share * chunks:
                    words.append({rarest})
        if not words:
            return order
        # What this question retrieved of each article: its title and every passage of it.
        passages: dict[str, str] = {}
        seen: set[str] = set()
        for c in cands:
            hit = c.hit
            if hit.article_id not in passages:
                passages[hit.article_id] = (hit.title or "").lower()
            if hit.chunk_id not in seen:
                seen.add(hit.chunk_id)
                passages[hit.article_id] += " " + hit.text.lower()
        held: dict[tuple[str, int], bool] = {}

        def holds(article: str, n: int) -> bool:
            if (article, n) not in held:
                name = words[n]
                held[(article, n)] = any(
                    re.search(rf"\b{re.escape(w)}", passages[article]) for w in name) or (
                    self.names_in is not None
                    and self.names_in(article, [w for w in name if len(w) > 3]))
            return held[(article, n)]

        return [i for i in order
                if all(holds(cands[i].hit.article_id, n) for n in range(len(words)))]

    def _full_name(self, question: str, cands: list[Candidate], direct: tuple[int, Entity]
                   ) -> tuple[int, Entity] | None:
        """For a one-word name ("Hill" in a sentence that speaks of him a second time), the
        longer form of it that the same article gives in its retrieved passages ("Tyreek
        Hill"), and the sentence that holds it (the one closest to the question, so that it
        supports the answer too): a reader asked "who" wants the whole name."""
        assert self.tagger is not None
        i, short = direct
        name = short.text
        if short.label not in ("PERSON", "ORG") or len(name.split()) != 1:
            return None
        before = re.compile(rf"\b[A-Z][\w.'’-]*\s+{re.escape(name)}\b")
        article = cands[i].hit.article_id
        near = sorted((j for j, c in enumerate(cands)
                       if c.hit.article_id == article and before.search(c.text)),
                      key=lambda j: -cands[j].score)[:3]
        asked = question.lower()
        for j, ents in zip(near, self.tagger.tag([cands[j].text for j in near]), strict=True):
            for e in ents:
                words = e.text.split()
                if (e.label == short.label and len(words) > 1 and words[-1] == name
                        and e.text.lower() not in asked):
                    return j, e
        return None

    def _names_differ(self, a: str, b: str) -> bool:
        """Not one fact, however alike they read: they name different people (places ...),
        or they are one sentence with other names in it, whatever labels the tagger gives
        ("Pixar's Soul has won" / "Pixar's Toy Story 2 has won" cite different claims)."""
        if self.tagger is None:
            return False
        return self.tagger.names_differ(a, b) is not None or (
            self.tuning.name_conflicts and self._other_names(a, b) is not None)

    def _other_names(self, a: str, b: str) -> tuple[list[str], list[str]] | None:
        """The names each of two sentences gives in place of the other's: the tagger's
        names first; a swap of words outside its names ("Soul" untagged, "Toy Story 2" a
        work of art) is the same disagreement."""
        assert self.tagger is not None
        return renamed(self.tagger, a, b) or swapped(a, b)

    def _typed(self, question: str, cands: list[Candidate], kind: frozenset[str],
               noun: str | None = None
               ) -> tuple[dict[int, list[Entity]], dict[str, float], Closeness]:
        """For the best candidates, the phrases of the asked kind each holds that the
        question does not (the question's own names are not its answer), and how close
        each phrase is to the asked ``noun`` when there is one.

        A noun no entity label stands for ("which sport", "which type of grocery item")
        takes the names and common-noun phrases of the best few sentences that the
        embedding model places near that noun ("figure skating" near "sport", "milk" near
        "grocery item"): any name at all would do otherwise, and the agency or the official
        who speaks in the sentence would be the answer."""
        assert self.tagger is not None
        t = self.tuning
        top = sorted(range(len(cands)), key=lambda i: -cands[i].score)[: t.kind_tagged]
        tagged = self.tagger.tag([cands[i].text for i in top])
        asked = question.lower()
        asked_stems = set(content_stems(question))
        counted = counted_noun(question)
        unit = stems(counted)[0] if counted else None
        out: dict[int, list[Entity]] = {}
        close: Closeness = {}
        for i, ents in zip(top, tagged, strict=True):
            text = cands[i].text
            new = [e for e in ents if kind_matches(e, kind)
                   and new_to(e, asked, asked_stems, t.own_share)
                   # "how many goals": a number that counts goals, not countries
                   and (unit is None or has_stem(unit, set(stems(
                       text[e.start : e.end + 40].split(".")[0]))))]
            out[i] = new
        weight: dict[str, float] = {}
        if t.closeness and (("PERSON" in kind and kind <= _WHO_KIND) or kind == WHEN):
            # "Who is the director", "when was it released": of the people (dates) a
            # sentence names, the one by the question's words ("directed by X", "released
            # on D"). Not for the loose kinds, whose answer often stands apart from them.
            # The words the question asks with, not those of the names it asks about ("the
            # iPhone 11" in "when was the iPhone 11 released"): a date by the name is often
            # another event's.
            keys = list(asked_stems)
            if t.role_words:
                named = {k for e in self.tagger.tag([question])[0] for k in stems(e.text)}
                keys = [k for k in keys if k not in named]
            for i in top:
                if out[i]:
                    near = closeness(cands[i].text, out[i], keys, t.closeness)
                    out[i] = sorted(out[i], key=lambda e: -near[e])
                    close[i] = near
        if noun:
            weight = self._near_noun(noun, cands, top[: t.head_sentences], out, asked,
                                     asked_stems)
            for i in top[t.head_sentences:]:
                out[i] = []
        for i in top:
            cands[i].score += t.kind_bonus if out[i] else -t.kind_penalty
        for i in range(len(cands)):
            if i not in out:
                cands[i].score -= t.kind_penalty
        return out, weight, close

    def _near_noun(self, noun: str, cands: list[Candidate], best: list[int],
                   out: dict[int, list[Entity]], asked: str, asked_stems: set[str]
                   ) -> dict[str, float]:
        """Keeps, in ``out``, the phrases of the ``best`` sentences close to ``noun``, the
        closest first; returns each kept phrase's closeness by its normalised text."""
        assert self.tagger is not None
        nouns = self.tagger.nouns([cands[i].text for i in best])
        found = {i: [*out[i], *(e for e in more
                                  if new_to(e, asked, asked_stems, self.tuning.own_share))]
                 for i, more in zip(best, nouns, strict=True)}
        # Embedding the phrases is most of this step's cost: the names, then the nouns of
        # the best sentence first, at most `head_phrases` of them.
        texts = list(dict.fromkeys(
            [e.text for i in best for e in found[i] if e.label != "NOUN"]
            + [e.text for i in best for e in found[i] if e.label == "NOUN"]
        ))[: self.tuning.head_phrases]
        if not texts:
            return {}
        vecs = self.vectors.of([noun, *texts])
        near = dict(zip(texts, (vecs[1:] @ vecs[0]).tolist(), strict=True))
        bar = self.tuning.head_similarity
        for i, ents in found.items():
            kept = [e for e in ents if near.get(e.text, 0.0) >= bar]
            # "figure skating" rather than "skating" (closer to "sport" alone): of nested
            # phrases that both pass, the longer says what the sentence says.
            kept = [e for e in kept if not any(
                f.start <= e.start and e.end <= f.end and f.text != e.text for f in kept)]
            out[i] = sorted(kept, key=lambda e: -near[e.text])
        return {fold(text): sim for text, sim in near.items() if sim >= bar}

    @staticmethod
    def _direct(cands: list[Candidate], order: list[int], phrases: dict[int, list[Entity]],
                cutoff: float, prefer_person: bool = False, prefer_day: bool = False,
                weight: dict[str, float] | None = None,
                close: Closeness | None = None
                ) -> tuple[int, Entity] | None:
        """The answer phrase most of the good sentences agree on (weighted by their scores),
        and the best sentence stating it."""
        votes: dict[str, float] = {}
        # "When": a bare year only dates what a day, where a good sentence gives one, says.
        prefer_day = prefer_day and any(_DAY.search(e.text) for i in order
                                        if cands[i].score >= cutoff for e in phrases[i])
        for i in order:
            if cands[i].score < cutoff:
                break
            # Of the phrases a sentence holds, the one nearest the question's words (the
            # "director" of "directed by X and written by Y") says what was asked.
            near_words: dict[str, float] = {}
            labels: dict[str, str] = {}
            for e in phrases[i]:
                name = fold(e.text)
                labels.setdefault(name, e.label)
                near_words[name] = max(near_words.get(name, 0.0),
                                       (close or {}).get(i, {}).get(e, 1.0))
            # Relative to the sentence's nearest phrase: closeness picks within a sentence,
            # not between sentences (an answer often stands apart from the question's words).
            nearest = max(near_words.values(), default=1.0)
            near_words = {n: v / nearest for n, v in near_words.items()}
            for name, label in labels.items():
                # The best sentence's phrase counts whole; agreement from other sentences
                # adds a quarter of theirs, so a phrase many sentences repeat in passing (a
                # weekday, a country) does not outvote the one that answers. A phrase of
                # the kind's first choice (a person, for "who") counts more than the rest.
                share = 1.0 if name not in votes else 0.25
                preferred = 0.6 if prefer_person and label != "PERSON" else 1.0
                if prefer_day and _BARE_YEAR.fullmatch(name):
                    preferred = 0.6
                near = weight.get(name, 1.0) if weight else 1.0  # closeness to the noun
                votes[name] = (votes.get(name, 0.0) + share * preferred * near
                               * near_words[name] * cands[i].score)
        if not votes:
            i = order[0]
            return i, phrases[i][0]
        winner = max(votes, key=lambda n: votes[n])
        for i in order:
            for e in phrases[i]:
                if fold(e.text) == winner:
                    return i, e
        return None  # pragma: no cover  (the winner came from these phrases)

    def _rival_answers(self, cands: list[Candidate], vecs: np.ndarray,
                       phrases: dict[int, list[Entity]], facts: list[list[int]],
                       direct: tuple[int, Entity]) -> list[tuple[int, Entity]]:
        """A sentence of another article that gives a different answer of the asked kind
        to the same question (another city, winner, company): both versions are shown."""
        lead, answer = direct
        chosen = {i for f in facts for i in f}
        named = fold(answer.text)
        for i, ents in phrases.items():
            c = cands[i]
            if (not ents or i in chosen or c.hit.article_id == cands[lead].hit.article_id
                    or c.score < self.tuning.threshold
                    or float(vecs[lead] @ vecs[i]) < self.tuning.same_topic):
                continue
            names = {fold(e.text) for e in ents}
            if any(named in n or n in named for n in names) or named in fold(c.text):
                continue  # it gives the same answer, perhaps among others
            if not same_time(cands[lead].hit.date, c.hit.date, self.tuning.rival_days):
                continue  # reports far apart in time tell of different events
            return [(i, ents[0])]
        return []

    def _same_fact(self, cands: list[Candidate], vecs: np.ndarray, a: int, b: int,
                   keys: set[str]) -> bool:
        """Close in meaning, sharing their words beyond the question's, and not disagreeing
        on a figure. (Meaning alone is not enough: two sentences naming the same two leaders
        at the same summit are close for the embedding model whatever they report.)"""
        if float(vecs[a] @ vecs[b]) < self.tuning.same_fact:
            return False
        wa = set(content_stems(cands[a].text)) - keys
        wb = set(content_stems(cands[b].text)) - keys
        if len(wa & wb) < self.tuning.same_words * min(len(wa), len(wb)):
            return False
        return disagreement(cands[a].text, cands[b].text) is None

    def _disagreements(self, cands: list[Candidate], vecs: np.ndarray,
                       facts: list[list[int]]) -> list[list[int]]:
        """Sentences of other articles that give a different figure for a chosen fact, or
        tell it in the same words with another name (one report's "Rafael Nadal has
        clinched the year-end No. 1", another's "Novak Djokovic has ..."): an answer must
        show both versions rather than pick one."""
        t = self.tuning
        chosen = {i for f in facts for i in f}
        extra: list[list[int]] = []
        for f in facts:
            a = f[0]
            figures = bool(quantities(cands[a].text))
            names = t.name_conflicts and self.tagger is not None
            if not figures and not names:
                continue
            for b, c in enumerate(cands):
                if (b in chosen or c.hit.article_id == cands[a].hit.article_id
                        or float(vecs[a] @ vecs[b]) < t.same_topic):
                    continue
                # A sentence that words the chosen one's fact again needs no score of its
                # own; one that only shares its topic must be a good sentence too.
                if ((figures and c.score >= t.floor
                     and disagreement(cands[a].text, c.text) is not None)
                        or (names and self._renamed(cands, a, b) is not None)):
                    extra.append([b])
                    chosen.add(b)
                    break
        return extra

    def _renamed(self, cands: list[Candidate], a: int, b: int
                 ) -> tuple[list[str], list[str]] | None:
        """The same sentence in two reports of the same days but for the names in it."""
        assert self.tagger is not None
        if not same_time(cands[a].hit.date, cands[b].hit.date, self.tuning.rival_days):
            return None
        return self._other_names(cands[a].text, cands[b].text)

    def _name_conflicts(self, cands: list[Candidate], facts: list[list[int]],
                        number: dict[int, int], question: str) -> list[Conflict]:
        """Pairs of the answer's facts that are one fact with different names: each
        version's own names, with its citation."""
        out: list[Conflict] = []
        seen: set[int] = set()
        leads = [f[0] for f in facts]
        for x, a in enumerate(leads):
            for b in leads[x + 1:]:
                if (a in seen or b in seen
                        or cands[a].hit.article_id == cands[b].hit.article_id):
                    continue
                differing = self._renamed(cands, a, b)
                if differing is None:
                    continue
                versions = [(", ".join(differing[0]), [number[a]]),
                            (", ".join(differing[1]), [number[b]])]
                out.append(Conflict(f"{question.rstrip('?')} (the reports differ)", versions))
                seen.update((a, b))
        return out

    def _compose(self, question: str, query_vector: np.ndarray, hits: list[Hit],
                 cands: list[Candidate], vecs: np.ndarray, facts: list[list[int]],
                 direct: tuple[int, Entity] | None = None,
                 rivals: Sequence[tuple[int, Entity]] = ()) -> Answer:
        cited = [i for f in facts for i in f]
        missing = [i for i in cited if not vecs[i].any()]
        if missing:  # every quote is judged with its own vector
            vecs[missing] = self.vectors.get([cands[i] for i in missing])
        citations: list[Citation] = []
        number: dict[int, int] = {}
        reported: list[Reported] = []
        parts = []
        for fact in facts:
            marks = []
            for i in fact:
                c = cands[i]
                score = round(support_score(question, c.text, query_vector, vecs[i],
                                            c.hit.text), 3)
                citations.append(Citation(
                    n=len(citations) + 1, article_id=c.hit.article_id, title=c.hit.title,
                    date=c.hit.date, source=c.hit.source, quote=c.text, start=c.start,
                    end=c.end, supported=score >= ANSWERS_AT, url=c.hit.url,
                    support_score=score,
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
        reworded: list[Conflict] = []  # one fact told with other names: after the facts
        if self.tuning.name_conflicts and self.tagger is not None and not rivals:
            reworded = self._name_conflicts(cands, facts, number, question)
        named: list[Conflict] = []  # a rival answer of the asked kind: stated first
        if direct is not None:
            i, phrase = direct
            if rivals:
                j, other = rivals[0]
                versions = [(phrase.text, [number[i]]), (other.text, [number[j]])]
                named.append(Conflict(f"{question.rstrip('?')} (the reports differ)",
                                      versions))
                head = "; ".join(f"{_source_of(citations, nums)} gives {text} [{nums[0]}]"
                                 for text, nums in versions)
                parts.insert(0, f"The reports differ: {head}.")
            else:
                parts.insert(0, f"{phrase.text} [{number[i]}].")
        # A disagreement on names that also reads as differing figures is listed once.
        shown = {n for c in named + reworded for _, ns in c.claims for n in ns}
        figures = [c for c in figures if not shown & {n for _, ns in c.claims for n in ns}]
        for conflict in reworded + figures:
            versions_text = "; ".join(
                f"{_source_of(citations, nums)} gives {text} " + "".join(f"[{n}]" for n in nums)
                for text, nums in conflict.claims)
            parts.append(f"The reports differ: {versions_text}.")
        return Answer(question=question, answer=" ".join(parts), abstained=False,
                      mode=self.mode, citations=citations, retrieved=hits,
                      conflicts=named + reworded + figures)


def _dated_before(text: str, year: int) -> bool:
    """The text names years, and none after ``year``."""
    years = [int(y) for y in _YEAR.findall(text)]
    return bool(years) and max(years) <= year


def _source_of(citations: list[Citation], numbers: list[int]) -> str:
    c = citations[numbers[0] - 1]
    return c.source or c.title
