"""One fact or two: when two sentences of different reports state the same fact (a second
citation), and when they give different versions of it (another city, winner or figure), so
that the answer shows both versions rather than picking one."""

from __future__ import annotations

import numpy as np

from assistant.answer.model import Citation, Conflict
from assistant.answer.phrases import renamed, same_time
from assistant.answer.reports import disagreement, quantities
from assistant.answer.sentences import Candidate
from assistant.answer.tuning import ExtractiveTuning
from assistant.ingest.copies import swapped
from assistant.query.entities import Entity, EntityTagger
from assistant.text import content_stems, fold


class Versions:
    def __init__(self, tagger: EntityTagger | None, tuning: ExtractiveTuning) -> None:
        self.tagger = tagger
        self.tuning = tuning

    def same_fact(self, cands: list[Candidate], vecs: np.ndarray, a: int, b: int,
                  keys: set[str]) -> bool:
        """Close in meaning, sharing their words beyond the question's, not disagreeing on
        a figure, and not naming different people (places ...). (Meaning alone is not
        enough: two sentences naming the same two leaders at the same summit are close for
        the embedding model whatever they report.)"""
        if float(vecs[a] @ vecs[b]) < self.tuning.same_fact:
            return False
        wa = set(content_stems(cands[a].text)) - keys
        wb = set(content_stems(cands[b].text)) - keys
        if len(wa & wb) < self.tuning.same_words * min(len(wa), len(wb)):
            return False
        return (disagreement(cands[a].text, cands[b].text) is None
                and not self._names_differ(cands[a].text, cands[b].text))

    def rival_answers(self, cands: list[Candidate], vecs: np.ndarray,
                      phrases: dict[int, list[Entity]], facts: list[list[int]],
                      direct: tuple[int, Entity], threshold: float
                      ) -> list[tuple[int, Entity]]:
        """A sentence of another article that gives a different answer of the asked kind
        to the same question (another city, winner, company): both versions are shown."""
        lead, answer = direct
        chosen = {i for f in facts for i in f}
        named = fold(answer.text)
        for i, ents in phrases.items():
            c = cands[i]
            if (not ents or i in chosen or c.hit.article_id == cands[lead].hit.article_id
                    or c.answers < threshold
                    or float(vecs[lead] @ vecs[i]) < self.tuning.same_topic
                    # Two versions of one fact are told in like words: a sentence that
                    # holds much less of the question is on the topic, naming something
                    # else ("The Times previously reported that an upside-down flag flew
                    # over the justice's home" beside a flag flown at the Post Office).
                    or c.lexical < self.tuning.rival_words * cands[lead].lexical):
                continue
            names = {fold(e.text) for e in ents}
            if any(named in n or n in named for n in names) or named in fold(c.text):
                continue  # it gives the same answer, perhaps among others
            if not same_time(cands[lead].hit.date, c.hit.date, self.tuning.rival_days):
                continue  # reports far apart in time tell of different events
            return [(i, ents[0])]
        return []

    def disagreements(self, cands: list[Candidate], vecs: np.ndarray,
                      facts: list[list[int]]) -> list[list[int]]:
        """Sentences of other articles that give a different figure for a chosen fact, or
        tell it in the same words with another name (one report's "Rafael Nadal has
        clinched the year-end No. 1", another's "Novak Djokovic has ...")."""
        t = self.tuning
        chosen = {i for f in facts for i in f}
        extra: list[list[int]] = []
        for f in facts:
            a = f[0]
            figures = bool(quantities(cands[a].text))
            names = self.tagger is not None
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

    def name_conflicts(self, cands: list[Candidate], facts: list[list[int]],
                       number: dict[int, int], question: str) -> list[Conflict]:
        """Pairs of the answer's facts that are one fact with different names: each
        version's own names, with its citation."""
        if self.tagger is None:
            return []
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

    def _names_differ(self, a: str, b: str) -> bool:
        """Not one fact, however alike they read: they name different people (places ...),
        or they are one sentence with other names in it, whatever labels the tagger gives
        ("Pixar's Soul has won" / "Pixar's Toy Story 2 has won" cite different claims)."""
        if self.tagger is None:
            return False
        return (self.tagger.names_differ(a, b) is not None
                or self._other_names(a, b) is not None)

    def _other_names(self, a: str, b: str) -> tuple[list[str], list[str]] | None:
        """The names each of two sentences gives in place of the other's: the tagger's
        names first; a swap of words outside its names ("Soul" untagged, "Toy Story 2" a
        work of art) is the same disagreement."""
        assert self.tagger is not None
        return renamed(self.tagger, a, b) or swapped(a, b)

    def _renamed(self, cands: list[Candidate], a: int, b: int
                 ) -> tuple[list[str], list[str]] | None:
        """The same sentence in two reports of the same days but for the names in it."""
        assert self.tagger is not None
        if not same_time(cands[a].hit.date, cands[b].hit.date, self.tuning.rival_days):
            return None
        return self._other_names(cands[a].text, cands[b].text)


def version_sources(citations: list[Citation], versions: list[list[int]]) -> list[str]:
    """Who gives each version: its outlet, with the report's date when one outlet gives
    two versions ("www.usatoday.com gives X; www.usatoday.com gives Y" names no report),
    and its title when the dates are one too."""
    firsts = [citations[numbers[0] - 1] for numbers in versions]
    labels = [c.source or c.title for c in firsts]
    if len(set(labels)) == len(labels):
        return labels
    dated = [f"{label} ({c.date})" if c.date else label for label, c in zip(labels, firsts,
                                                                         strict=True)]
    if len(set(dated)) == len(dated):
        return dated
    return [f"{label} (“{_short(c.title)}”)" for label, c in zip(labels, firsts, strict=True)]


def _short(title: str, words: int = 6) -> str:
    parts = title.split()
    return title if len(parts) <= words else " ".join(parts[:words]).rstrip(".,:;") + "…"
