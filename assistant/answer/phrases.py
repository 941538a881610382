"""Small judgements about the phrases of sentences that the extractive reader makes: how
near a phrase stands to the question's words, whether two names are one, whether two
sentences are one sentence with other names in it."""

from __future__ import annotations

from datetime import date
from difflib import SequenceMatcher

from assistant.query.entities import Entity, EntityTagger
from assistant.text import content_stems, fold, has_stem, stem_words, word_spans, words

# Proper names, whatever the small tagger calls them (entities.NAME_LABELS, which the
# same-label test reads, holds dates too), and how alike the rest of two sentences must
# read for them to be one sentence with another name.
PROPER_NAMES = frozenset({"PERSON", "ORG", "GPE", "LOC", "FAC", "NORP", "PRODUCT", "EVENT",
                          "WORK_OF_ART"})
SAME_WORDING = 0.8
SAME_SPELLING = 0.85


def new_to(phrase: Entity, asked: str, asked_stems: set[str], own_share: float = 1.0
           ) -> bool:
    """A phrase the question (lower-cased ``asked``) does not already say: the question's
    own names and words are not its answer, nor is a name that is ``own_share`` or more
    the question's words ("Dogfish Head Craft Brewery" for a question about "Dogfish Head
    Brewery": the subject asked about, restated)."""
    own = set(content_stems(phrase.text))
    if phrase.text.lower() in asked or not own:
        return False
    return len(own & asked_stems) < own_share * len(own)


def closeness(text: str, phrases: list[Entity], keys: list[str], scale: float
               ) -> dict[Entity, float]:
    """How near each phrase stands to a word of the question in ``text``: 1 / (1 + d /
    ``scale``) for d words in between (as far as 10 when the sentence holds none). A word
    matches a key by stem, or when one prefixes the other in at least five letters
    ("directed" for "director")."""
    tokens = [(s, e, w.removesuffix("'s")) for s, e, w in word_spans(text)]
    roots = stem_words([w for _, _, w in tokens])
    hits = [n for n, root in enumerate(roots)
            if any(has_stem(k, {root}) or (len(root) >= 5 and k.startswith(root))
                   for k in keys)]
    out = {}
    for e in phrases:
        inside = [n for n, (s, end, _) in enumerate(tokens) if s < e.end and end > e.start]
        if not inside:
            out[e] = 1.0 / (1.0 + 10 / scale)
            continue
        first, last = inside[0], inside[-1]
        gaps = [first - n - 1 if n < first else n - last - 1
                for n in hits if not first <= n <= last]
        out[e] = 1.0 / (1.0 + min([10, *gaps]) / scale)
    return out


def same_name(a: str, b: str) -> bool:
    """Normalised names that are one name: one holds the other's words ("Louisiana" in
    "Louisiana Public"), or they differ as spellings do ("Colombian", "Columbian")."""
    wa, wb = a.split(), b.split()
    n = min(len(wa), len(wb))
    if any(wa[i : i + n] == wb for i in range(len(wa) - n + 1)) or any(
            wb[i : i + n] == wa for i in range(len(wb) - n + 1)):
        return True
    return SequenceMatcher(None, a, b, autojunk=False).ratio() >= SAME_SPELLING


def same_time(a: str | None, b: str | None, days: int) -> bool:
    """Dated within ``days`` of each other (undated reports may be about anything)."""
    if not a or not b:
        return True
    return abs((date.fromisoformat(a) - date.fromisoformat(b)).days) <= days


def renamed(tagger: EntityTagger, a: str, b: str) -> tuple[list[str], list[str]] | None:
    """Two sentences that read the same but for the names in them: the names each gives
    that the other does not. Only the words outside the names are compared, since the
    small tagger labels one name a person and another an organisation in the same
    sentence."""
    tagged = tagger.tag([a, b])
    names = [{fold(e.text): e.text for e in ents if e.label in PROPER_NAMES} for ents in tagged]
    only_a = [t for n, t in names[0].items() if not any(same_name(n, m) for m in names[1])]
    only_b = [t for n, t in names[1].items() if not any(same_name(n, m) for m in names[0])]
    if not only_a or not only_b:
        return None
    rest = []
    for text, ents in zip((a, b), tagged, strict=True):
        for e in sorted(ents, key=lambda e: -e.start):
            if e.label in PROPER_NAMES:
                text = text[: e.start] + " " + text[e.end :]
        rest.append(words(text))
    if SequenceMatcher(None, rest[0], rest[1], autojunk=False).ratio() < SAME_WORDING:
        return None
    return only_a, only_b
