"""Are generated tunes new? Near-copies of corpus tunes, and the longest passage copied verbatim.

Compared on the music only (the text after ``K:``, whitespace removed), so shared headers such as
``X:1`` or ``M:6/8`` do not count as copying.
"""

from __future__ import annotations

import bisect
import difflib
from collections import Counter, defaultdict

from musegen import Piece
from musegen.abctext import body_of

NGRAM = 8


class Novelty:
    formats = ("abc",)

    def __init__(self, config=None, threshold: float = 0.95):
        self.config = config
        self.threshold = threshold
        self._made: tuple | None = None

    def evaluate(self, pieces: list[Piece], reference: list[Piece]) -> dict[str, float]:
        if not pieces or not reference:
            return {}
        corpus, index, substrings = self._corpus(reference)
        copies, longest = 0, []
        for p in pieces:
            body = body_of(p.text)
            if nearest_similarity(body, corpus, index, floor=self.threshold) >= self.threshold:
                copies += 1
            longest.append(substrings.longest_common(body))
        return {
            "copies_pct": round(100.0 * copies / len(pieces), 2),
            "longest_copy_chars": max(longest),
            "mean_longest_copy_chars": round(sum(longest) / len(longest), 1),
        }

    def _corpus(self, reference: list[Piece]) -> tuple[list[str], dict[str, set[int]], Substrings]:
        """The reference's bodies, 8-gram index and :class:`Substrings`, made once for the list given
        (``gen eval`` measures the samples and the held-out tunes against the same training tunes)."""
        if self._made is None or self._made[0] is not reference:  # the list itself kept: no id reused
            corpus = [body_of(p.text) for p in reference]
            index = ngram_index(corpus)
            self._made = (reference, corpus, index, Substrings(corpus, index))
        return self._made[1:]


def ngram_index(corpus: list[str]) -> dict[str, set[int]]:
    """Each 8-gram of the corpus's texts: the texts it occurs in."""
    index: dict[str, set[int]] = defaultdict(set)
    for i, body in enumerate(corpus):
        for j in range(len(body) - NGRAM + 1):
            index[body[j : j + NGRAM]].add(i)
    return index


def nearest_similarity(
    body: str, corpus: list[str], index: dict[str, set[int]], candidates: int = 5, floor: float = 0.0
) -> float:
    """Highest difflib ratio between ``body`` and a corpus tune, checking the tunes sharing most 8-grams.

    A tune whose ratio cannot reach ``floor`` (difflib's two upper bounds say so) is not compared:
    a result below ``floor`` is then only a lower bound. ``Novelty`` asks only whether the ratio reaches
    its threshold (0.95), which most generated tunes' bounds already rule out: the same copies found,
    far fewer comparisons."""
    shared = Counter()
    for j in range(len(body) - NGRAM + 1):
        for i in index.get(body[j : j + NGRAM], ()):
            shared[i] += 1
    best = 0.0
    for i, _ in shared.most_common(candidates):
        m = difflib.SequenceMatcher(None, body, corpus[i], autojunk=False)
        need = max(best, floor)
        if m.real_quick_ratio() >= need and m.quick_ratio() >= need:
            best = max(best, m.ratio())
    return best


class Substrings:
    """Longest substring of a text that occurs in one text of a corpus ("matching statistics": each
    start position extends the previous match, so a text of n characters needs about 2n lookups).

    Up to 8 characters a lookup is a binary search among the corpus's 8-character windows (those at the
    end of a text shorter), sorted: a string that short occurs where it begins one of them. A longer one
    is searched for only in the texts that hold its first 8 characters (``index``, :func:`ngram_index`),
    fewer with each character added: a miss (the common case) no longer reads the whole corpus."""

    def __init__(self, corpus: list[str], index: dict[str, set[int]] | None = None):
        self.corpus = corpus
        self.index = ngram_index(corpus) if index is None else index
        tails = {body[j:] for body in corpus for j in range(max(0, len(body) - NGRAM + 1), len(body))}
        self.windows = sorted(tails | self.index.keys())

    def _short(self, needle: str) -> bool:
        """Whether ``needle``, of at most 8 characters, occurs in the corpus."""
        i = bisect.bisect_left(self.windows, needle)
        return i < len(self.windows) and self.windows[i].startswith(needle)

    def longest_common(self, text: str) -> int:
        best, length, n = 0, 0, len(text)
        for j in range(n):
            length = max(0, length - 1)  # text[j:j + length] occurs: the previous match less its first
            while length < NGRAM and j + length < n and self._short(text[j : j + length + 1]):
                length += 1
            if length >= NGRAM:  # longer matches lie in a text holding text[j:j + 8], and in one only
                texts = [self.corpus[i] for i in self.index.get(text[j : j + NGRAM], ())]
                while j + length < n:
                    needle = text[j : j + length + 1]
                    texts = [t for t in texts if needle in t]
                    if not texts:
                        break
                    length += 1
            best = max(best, length)
        return best
