"""Are generated tunes new? Near-copies of corpus tunes, and the longest passage copied verbatim.

Compared on the music only (the text after ``K:``, whitespace removed), so shared headers such as
``X:1`` or ``M:6/8`` do not count as copying.
"""

from __future__ import annotations

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

    def evaluate(self, pieces: list[Piece], reference: list[Piece]) -> dict[str, float]:
        if not pieces or not reference:
            return {}
        corpus = [body_of(p.text) for p in reference]
        index: dict[str, set[int]] = defaultdict(set)
        for i, body in enumerate(corpus):
            for j in range(len(body) - NGRAM + 1):
                index[body[j:j + NGRAM]].add(i)
        copies, longest = 0, []
        substrings = Substrings(corpus)
        for p in pieces:
            body = body_of(p.text)
            if nearest_similarity(body, corpus, index) >= self.threshold:
                copies += 1
            longest.append(substrings.longest_common(body))
        return {
            "copies_pct": round(100.0 * copies / len(pieces), 2),
            "longest_copy_chars": max(longest),
            "mean_longest_copy_chars": round(sum(longest) / len(longest), 1),
        }


def nearest_similarity(body: str, corpus: list[str], index: dict[str, set[int]], candidates: int = 5) -> float:
    """Highest difflib ratio between ``body`` and a corpus tune, checking the tunes sharing most 8-grams."""
    shared = Counter()
    for j in range(len(body) - NGRAM + 1):
        for i in index.get(body[j:j + NGRAM], ()):
            shared[i] += 1
    best = 0.0
    for i, _ in shared.most_common(candidates):
        m = difflib.SequenceMatcher(None, body, corpus[i], autojunk=False)
        if m.real_quick_ratio() > best and m.quick_ratio() > best:
            best = max(best, m.ratio())
    return best


class Substrings:
    """Longest substring of a text that occurs in a corpus ("matching statistics": each start
    position extends the previous match, so a text of n characters needs about 2n searches)."""

    def __init__(self, corpus: list[str]):
        self.joined = "\x00".join(corpus)

    def longest_common(self, text: str) -> int:
        best, length = 0, 0
        for j in range(len(text)):
            length = max(0, length - 1)
            while j + length < len(text) and text[j:j + length + 1] in self.joined:
                length += 1
            best = max(best, length)
        return best
