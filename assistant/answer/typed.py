"""The direct answer: the phrase of the asked kind ("which city" a place, "how many" a
number, "who" a person or body) that the best sentences agree on, verbatim from one of them.

The kind is read from the question's form (``entities.answer_kind``); for a noun no entity
label stands for ("which sport"), the phrases are those the embedding model places near
that noun. Finding the phrases also moves each sentence's score: a sentence that holds one
gains, one that holds none loses (a sentence on the topic that names no city does not say
which city).
"""

from __future__ import annotations

import re

from assistant.answer.phrases import closeness, new_to
from assistant.answer.sentences import Candidate, SentenceVectors
from assistant.answer.tuning import ExtractiveTuning
from assistant.query.entities import WHEN, Entity, EntityTagger, counted_noun, kind_matches
from assistant.text import MONTH_PATTERN, content_stems, fold, has_stem, stems

_BARE_YEAR = re.compile(r"(?:in\s+)?(?:19|20)\d\d")
_MONTH = rf"(?:{MONTH_PATTERN})\b\.?"
_DAY = re.compile(rf"\b{_MONTH}\s+\d{{1,2}}\b|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}",
                  re.I)
_WHO_KIND = frozenset({"PERSON", "ORG", "GPE", "NORP"})  # what "who ...?" asks for
Closeness = dict[int, dict[Entity, float]]  # per candidate, each phrase's nearness
Phrases = dict[int, list[Entity]]  # per candidate, the phrases of the asked kind it holds
_SAYS_AFTER = re.compile(r"(?:,[^,]{0,100},)?\s+(?:said|says|told|explained|added|noted|wrote)\b")
_SAYS_BEFORE = re.compile(r"\baccording to (?:the )?\Z", re.I)
_SAYING = re.compile(r"\b(?:say|said|says|tell|told|according|warn\w*|claim\w*|announc\w*"
                     r"|spokes\w*|quot\w*|critici[sz]\w*)\b", re.I)


def _speaks(text: str, e: Entity) -> bool:
    """The name is who speaks in the sentence ("X, a curator at Y, said", "according to
    X"): the source of a statement, not what it states."""
    return bool(_SAYS_AFTER.match(text, e.end) or _SAYS_BEFORE.search(text[: e.start]))


class PhraseReader:
    def __init__(self, tagger: EntityTagger, vectors: SentenceVectors,
                 tuning: ExtractiveTuning) -> None:
        self.tagger = tagger
        self.vectors = vectors
        self.tuning = tuning

    def typed(self, question: str, cands: list[Candidate], kind: frozenset[str],
              noun: str | None = None) -> tuple[Phrases, dict[str, float], Closeness]:
        """For the best candidates, the phrases of the asked kind each holds that the
        question does not (the question's own names are not its answer), and how close
        each phrase is to the asked ``noun`` when there is one.

        A noun no entity label stands for ("which sport", "which type of grocery item")
        takes the names and common-noun phrases of the best few sentences that the
        embedding model places near that noun ("figure skating" near "sport", "milk" near
        "grocery item"): any name at all would do otherwise, and the agency or the official
        who speaks in the sentence would be the answer."""
        t = self.tuning
        top = sorted(range(len(cands)), key=lambda i: -cands[i].score)[: t.kind_tagged]
        tagged = self.tagger.tag([cands[i].text for i in top])
        asked = question.lower()
        asked_stems = set(content_stems(question))
        counted = counted_noun(question)
        unit = stems(counted)[0] if counted else None
        out: Phrases = {}
        close: Closeness = {}
        reports_saying = bool(_SAYING.search(question))
        for i, ents in zip(top, tagged, strict=True):
            text = cands[i].text
            new = [e for e in ents if kind_matches(e, kind)
                   and new_to(e, asked, asked_stems, t.own_share)
                   and (reports_saying or not _speaks(text, e))
                   # "how many goals": a number that counts goals, not countries
                   and (unit is None or has_stem(unit, set(stems(
                       text[e.start : e.end + 40].split(".")[0]))))]
            out[i] = new
        weight: dict[str, float] = {}
        if t.closeness and (("PERSON" in kind and kind <= _WHO_KIND) or kind == WHEN):
            # "Who is the director", "when was it released": of the people (dates) a
            # sentence names, the one by the question's words ("directed by X", "released
            # on D"). Not for the loose kinds, whose answer often stands apart from them.
            keys = list(asked_stems)
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

    def _near_noun(self, noun: str, cands: list[Candidate], best: list[int], out: Phrases,
                   asked: str, asked_stems: set[str]) -> dict[str, float]:
        """Keeps, in ``out``, the phrases of the ``best`` sentences close to ``noun``, the
        closest first; returns each kept phrase's closeness by its normalised text."""
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

    def full_name(self, question: str, cands: list[Candidate], direct: tuple[int, Entity]
                  ) -> tuple[int, Entity] | None:
        """For a one-word name ("Hill" in a sentence that speaks of him a second time), the
        longer form of it that the same article gives in its retrieved passages ("Tyreek
        Hill"), and the sentence that holds it (the one closest to the question, so that it
        supports the answer too): a reader asked "who" wants the whole name."""
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


def direct_phrase(cands: list[Candidate], order: list[int], phrases: Phrases, cutoff: float,
                  prefer_person: bool = False, prefer_day: bool = False,
                  weight: dict[str, float] | None = None, close: Closeness | None = None
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
                preferred = 0.0
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
