"""Re-published copies, and rival versions that are not copies.

``NearDuplicates``: MinHash (datasketch) over word 5-shingles; an article whose shingles
overlap an earlier one's by about 80 % or more is a re-published copy (``duplicate_of``),
unless the two read word for word the same but for names or figures (``rival_versions``):
then they say different things, and both stay to be found and compared.
"""

from __future__ import annotations

import base64
import hashlib
import re
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import TYPE_CHECKING, Any

import numpy as np

from assistant.ingest.articles import Article
from assistant.text import fold

if TYPE_CHECKING:
    from datasketch import MinHash


def rival_versions(a: str, b: str, outlets: Sequence[str] = ()) -> bool:
    """Two texts the same word for word but for a name or a figure ("Tim Cook is Apple's
    CEO" / "Steve Jobs is Apple's CEO"): a report that contradicts the other, not a copy."""
    return swapped(a, b, outlets) is not None


def swapped(a: str, b: str, outlets: Sequence[str] = ()
            ) -> tuple[list[str], list[str]] | None:
    """The names or figures each text gives in place of the other's, when that is all
    that differs between them.

    Every run of words that differs must be a short swap (at most five words a side) with a
    name or a figure at both ends of both sides, and the swaps at most a fifth of the
    words. Re-spellings ("Visé" / "Vise") and the outlets' own names are passed over; any
    other edit (a sentence added, a byline, an update's rewording) makes it no swap:
    syndicated copies differ in those ways, rival versions only in the fact. Both the
    copy check at ingest and the reader's "one fact, other names" test use it."""
    wa, wb = _WORDS.findall(a), _WORDS.findall(b)
    own = {fold(o) for o in outlets if o}
    mine: list[str] = []
    theirs: list[str] = []
    changed = 0
    for op, i1, i2, j1, j2 in SequenceMatcher(None, wa, wb, autojunk=False).get_opcodes():
        if op == "equal":
            continue
        x, y = " ".join(wa[i1:i2]), " ".join(wb[j1:j2])
        if fold(x) in own or fold(y) in own or SequenceMatcher(
                None, _letters(x), _letters(y), autojunk=False).ratio() >= _RESPELLED:
            continue
        if op != "replace" or max(i2 - i1, j2 - j1) > _SWAP_WORDS or not (
                _name_run(wa[i1:i2]) and _name_run(wb[j1:j2])):
            return None
        mine.append(x)
        theirs.append(y)
        changed += max(i2 - i1, j2 - j1)
    # Two short sentences that share a name and little else are not one text.
    if not mine or changed > (1 - _SAME_SHARE) * max(len(wa), len(wb)):
        return None
    return mine, theirs


_SWAP_WORDS = 5


# Unicode words, unlike text.words: "Marilène" must stay one word to be seen as a re-spelling.
_WORDS = re.compile(r"\w+(?:['’]\w+)*")
_SAME_SHARE = 0.8
_RESPELLED = 0.8  # letters alike, accents and spaces aside: one name spelled two ways


def _letters(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if c.isalnum())


def _name_run(run: list[str]) -> bool:
    """Begins and ends with a figure or a capitalised word ("Toy Story 2", "The Shape of
    Water"; one letter is an initial or a cut word, not a name)."""
    return all(any(c.isdigit() for c in w) or (w[0].isupper() and len(w) > 1)
               for w in (run[0], run[-1]))


@dataclass(frozen=True)
class CopyCheck:
    """What copy detection says of an article about to be written."""

    original: str | None = None  # the stored article it re-publishes
    signature: str = ""  # its MinHash signature, encoded
    bands: tuple[str, ...] = ()  # its LSH band keys, stored to be found by key
    copies: tuple[str, ...] = ()  # stored articles that turn out to re-publish it


class NearDuplicates:
    """Finds re-published copies (MinHash LSH over word 5-shingles, datasketch's MinHash).

    The store is asked by key, never read whole: each signature is cut into LSH bands
    (``bands``), the registry keeps each article's band keys, and ``check`` asks the store
    only for the articles that share a band with the new one (``lookup``), then compares
    their signatures. Cost per article is independent of the store's size. Articles of the
    running batch, not yet in the registry, are remembered here until the run ends."""

    NUM_PERM = 64
    THRESHOLD = 0.8
    SCHEME = "affine32"  # stored signatures are read back with the scheme they were made with
    # Bands and rows per band as datasketch's MinHashLSH chooses them for this threshold
    # and permutation count (b=5, r=11): the same candidates as the in-memory LSH had.
    BANDS, ROWS = 5, 11
    RECENT = 256

    def __init__(self, lookup: Callable[[list[str]], Sequence[tuple[str, str | None, str]]],
                 texts: Callable[[list[str]], Mapping[str, str]] | None = None,
                 ) -> None:
        """``lookup(band keys)``: (article id, date, encoded signature) of the stored
        articles sharing any of those band keys. ``texts(ids)``: stored articles' texts,
        to tell a rival version from a copy (without it every near match is a copy)."""
        self._lookup = lookup
        self._texts = texts
        # Texts of the latest articles checked: those of the batch being written are not
        # stored yet (a batch holds at most ingest.EMBED_BATCH_CHUNKS articles).
        self._recent: OrderedDict[str, tuple[str, str | None]] = OrderedDict()
        self._dates: dict[str, str] = {}
        self._signatures: dict[str, MinHash] = {}  # this run's articles
        self._by_band: dict[str, set[str]] = {}

    @classmethod
    def signature(cls, text: str) -> MinHash:
        from datasketch import MinHash

        words = re.findall(r"\w+", text.lower())
        shingles = {" ".join(words[i : i + 5]).encode() for i in range(max(1, len(words) - 4))}
        m = MinHash(num_perm=cls.NUM_PERM, scheme=cls.SCHEME)
        m.update_batch(list(shingles))
        return m

    @classmethod
    def bands(cls, m: MinHash) -> list[str]:
        """One key per band: the band's number and a digest of its rows of hash values."""
        values = np.asarray(m.hashvalues, dtype=np.uint32)
        return [f"{i}:" + hashlib.blake2b(values[i * cls.ROWS : (i + 1) * cls.ROWS].tobytes(),
                                          digest_size=8).hexdigest()
                for i in range(cls.BANDS)]

    @staticmethod
    def encode(m: MinHash) -> str:
        return base64.b64encode(np.asarray(m.hashvalues, dtype=np.uint32).tobytes()).decode()

    @classmethod
    def decode(cls, encoded: str) -> MinHash:
        from datasketch import MinHash

        values = np.frombuffer(base64.b64decode(encoded), dtype=np.uint32)
        return MinHash(num_perm=cls.NUM_PERM, hashvalues=values, scheme=cls.SCHEME)

    def _rivals(self, article: Article, similar: list[str]) -> list[str]:
        """Of the near matches, those that contradict the article rather than copy it."""
        known = {c: self._recent[c] for c in similar if c in self._recent}
        missing = [c for c in similar if c not in known]
        if missing and self._texts:
            known.update({c: (t, None) for c, t in self._texts(missing).items()})
        return [c for c, (text, source) in known.items()
                if rival_versions(article.text, text, (article.source or "", source or ""))]

    def check(self, article: Article) -> CopyCheck:
        """The article this one copies, its signature and bands, articles that copy it.

        The earliest report is the original. An article found to be earlier than reports
        already stored becomes their original, so they are returned to be re-marked."""
        m = self.signature(article.text)
        keys = self.bands(m)
        candidates: dict[str, tuple[str, Any]] = {}
        for other, day, encoded in self._lookup(keys):
            if encoded and other != article.id:
                candidates[other] = (day or "9999-99-99", self.decode(encoded))
        for key in keys:
            for other in self._by_band.get(key, ()):
                if other != article.id:
                    candidates[other] = (self._dates[other], self._signatures[other])
        similar = {c: day for c, (day, sig) in candidates.items()
                   if sig.jaccard(m) >= self.THRESHOLD}
        for c in self._rivals(article, list(similar)):
            del similar[c]
        mine = (article.date or "9999-99-99", article.id)
        earlier = [c for c, day in similar.items() if (day, c) < mine]
        later = [c for c, day in similar.items() if (day, c) > mine]
        original = min(earlier, key=lambda c: (similar[c], c)) if earlier else None
        self._signatures[article.id] = m
        self._dates[article.id] = article.date or "9999-99-99"
        self._recent[article.id] = (article.text, article.source)
        while len(self._recent) > self.RECENT:
            self._recent.popitem(last=False)
        for key in keys:
            self._by_band.setdefault(key, set()).add(article.id)
        return CopyCheck(original=original, signature=self.encode(m), bands=tuple(keys),
                         copies=() if original else tuple(later))
