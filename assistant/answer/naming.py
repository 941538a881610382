"""Which articles may answer at all: those that name what the question names.

A sentence about the same topic in an article about someone else does not answer ("what did
Takaichi and Starmer agree on tariffs?" is not answered by a report on another leader's
tariffs). The people, places and bodies the question names, the names the tagger missed, and
the question's rarest noun must each be in what the question retrieved of the article (its
title and passages). Not anywhere in the article: a long article names much in passing, and
what was retrieved of it is what answers (measured on every dev set, docs/tuning.md, fifth
round). A person is the exception: a report names its people once, then says "the mayor",
so a person the question names may be anywhere in the article (``Corpus.article_holds``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

from assistant.answer.sentences import Candidate
from assistant.answer.tuning import ExtractiveTuning
from assistant.query.entities import KIND_WORDS, EntityTagger
from assistant.text import content_terms

# Names a passage must hold to answer a question that names them. Not NORP: "American" is
# written "U.S." as often as not.
_NAMED = frozenset({"PERSON", "GPE", "LOC", "FAC"})
_ARTICLES = frozenset({"the", "a", "an"})

class Corpus(Protocol):
    """What the reader asks of the store it reads from, beyond the retrieved passages
    (``index.side_search.Searching`` answers all of it)."""

    def article_holds(self, article_id: str, words: Sequence[str]) -> bool:
        """Whether the whole article (not what was retrieved of it) holds one of the words."""
        ...

    def document_frequency(self, words: Sequence[str]) -> tuple[dict[str, int], int]:
        """In how many chunks of the store each word is, and how many chunks it holds."""
        ...

    def holds_days(self, first: str, last: str) -> bool:
        """Whether the store holds a report dated from ``first`` to ``last`` (ISO days)."""
        ...


class NameCheck:
    """Which candidates name what the question names. ``corpus``: the store, for the
    articles' other passages and how rare a word is (without it, only the retrieved
    passages are read and no word is told rare)."""

    def __init__(self, tagger: EntityTagger, tuning: ExtractiveTuning,
                 corpus: Corpus | None = None) -> None:
        self.tagger = tagger
        self.tuning = tuning
        self.corpus = corpus

    def keep(self, question: str, cands: list[Candidate], order: list[int]) -> list[int]:
        """``order`` without the candidates whose article misses a name the question asks
        about."""
        words, people = self.required(question)
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
                    self.corpus is not None and n in people
                    and self.corpus.article_holds(article, [w for w in name if len(w) > 3]))
            return held[(article, n)]

        return [i for i in order
                if all(holds(cands[i].hit.article_id, n) for n in range(len(words)))]

    def required(self, question: str) -> tuple[list[set[str]], set[int]]:
        """The question's names, each as the set of lower-case words any one of which
        names it in an article; and which of them name people."""
        t = self.tuning
        names = [(e.text, e.label) for e in self.tagger.tag([question])[0]
                 if e.label in _NAMED]
        # A name the NER missed is a name still; titles ("President") and acronyms are
        # often left out of a report that names the person or body.
        names += [(n, "ORG") for n in self.tagger.untagged_names(question)
                  if not n.isupper() and n.lower() not in KIND_WORDS]
        words: list[set[str]] = []
        people: set[int] = set()
        for name, label in names:
            parts = re.findall(r"[A-Za-z][\w'-]*", name)
            said = {w.lower() for w in parts if len(w) > 2 and w.lower() not in _ARTICLES}
            if len(said) > 1 and label != "PERSON" and self.corpus is not None:
                # "Brandywine Creek State Park" is not named by a report on Rock Creek: of a
                # place's or body's many-word name, the word fewest chunks hold tells it (a
                # person is named by surname alone, whichever word is rarer).
                ordered = sorted(said)
                df = self.corpus.document_frequency(ordered)[0]
                said = {min(ordered, key=lambda w: df.get(w, 0))}
            if len(parts) > 1:  # "World Health Organization" is also "WHO"
                said.add("".join(w[0] for w in parts if w[0].isupper()).lower())
            if said:
                if label == "PERSON":
                    people.add(len(words))
                words.append(said)
        if t.rare_share and self.corpus is not None:
            # The question's rarest noun ("muskrat") names what it is about as a name does
            # (an adjective, "unreasonable", is often said in other words).
            nouns = {e.text.lower().split()[-1] for e in self.tagger.nouns([question])[0]}
            terms = [w for w in content_terms(question).values()
                     if w in nouns and len(w) > 3 and w not in KIND_WORDS]
            if terms:
                df, chunks = self.corpus.document_frequency(terms)
                rarest = min(terms, key=lambda w: df.get(w, 0))
                if 0 < df.get(rarest, 0) <= t.rare_share * chunks:
                    words.append({rarest})
        return words, people
