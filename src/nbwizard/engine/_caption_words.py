"""What a dataset's captions say about its trigger word and its class word; pure functions over caption texts.

The rules, with their thresholds:

* **Words.** A caption is split into words: runs of letters, digits and ``_``, joined by ``-`` or ``'``
  (``zxc_person``, ``close-up``, ``o'neil``). ``[trigger]`` and ``[name]`` are placeholders (ai-toolkit puts the
  trigger word there), never words. Each caption counts a word once.
* **Trigger-word candidate.** A word found, exactly as written (the trainer matches the trigger word
  case-sensitively), in at least :data:`TRIGGER_SHARE` (80 %) of the captions, and not an ordinary word: not,
  in lower case, an English word (``data/english_words.txt.gz``: the 40,134 lower-case entries of SCOWL's
  American English list up to size 35; its source and notices in ``data/english_words.NOTICE.txt``), not on a
  list of ``data/caption_words.json`` (caption jargon such as ``closeup``, ``4k``), not a number. So ``sks``,
  ``ohwx``, ``zxc`` or a name such as ``Emma`` qualify; ``a``, ``photo``, ``pose`` do not. Of several, the one in
  the most captions wins, then the one that comes first in the captions on average. No candidate when fewer than
  :data:`MIN_CAPTIONS` captions are read. A compound (``close-up``) is ordinary when each of its parts is.
* **Class-word candidate** (what the trigger word stands for, e.g. DOP's preservation class). Each caption that
  holds the anchor (the trigger candidate, else the configured trigger word, and the placeholders) names at most
  one word, looked for within :data:`CLASS_WINDOW` words after the anchor, then before it: a noun of the ``class``
  list, else a word that is neither a ``function`` nor a ``caption`` word (``sks teapot``: ``teapot``). The word
  named by the most captions is the candidate when at least :data:`CLASS_SHARE` (50 %) of the anchored captions
  name it. When fewer than :data:`MIN_CAPTIONS` captions hold an anchor: the ``class`` noun found in the most
  captions, if in at least 50 % of them.

Each candidate carries its evidence ("in 23 of 25 captions").
"""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

__all__ = ["CLASS_SHARE", "CLASS_WINDOW", "MIN_CAPTIONS", "TRIGGER_SHARE", "WordCandidate", "caption_words",
           "class_candidate", "trigger_candidate", "word_candidates"]

TRIGGER_SHARE = 0.8
CLASS_SHARE = 0.5
CLASS_WINDOW = 3
MIN_CAPTIONS = 2
_ANCHOR = "[trigger]"  # what a placeholder becomes among the words: no word can be spelled so
_WORD = re.compile(r"\w+(?:['’-]\w+)*")
_PLACEHOLDER = re.compile(r"\[(?:trigger|name)\]")
_JOINERS = re.compile(r"['’-]")


@dataclass(frozen=True, slots=True)
class WordCandidate:
    """A word the captions point to, with the count behind it."""

    word: str
    captions: int  # captions that back it
    of: int  # captions it was looked for in
    evidence: str  # the counts in words, e.g. "'sks' is in 23 of 25 captions"


@cache
def _lists() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """Lower-case word sets: every ordinary word (the English list and the caption lists), the class nouns, and the
    words that never name a subject (function and caption words)."""
    data = resources.files("nbwizard.engine").joinpath("data")
    raw = json.loads(data.joinpath("caption_words.json").read_text("utf-8"))
    lists = {k: frozenset(v) for k, v in raw.items() if not k.startswith("_")}
    english = gzip.decompress(data.joinpath("english_words.txt.gz").read_bytes()).decode("ascii").split()
    return frozenset(english).union(*lists.values()), lists["class"], lists["function"] | lists["caption"]


def caption_words(caption: str) -> list[str]:
    """The words of ``caption`` in order, a placeholder standing as ``[trigger]``."""
    if "[" not in caption:
        return _WORD.findall(caption)
    words: list[str] = []
    for i, part in enumerate(_PLACEHOLDER.split(caption)):
        if i:
            words.append(_ANCHOR)
        words += _WORD.findall(part)
    return words


def word_candidates(captions: Sequence[str], trigger: str | None = None
                    ) -> tuple[WordCandidate | None, WordCandidate | None]:
    """Both candidates at once (the captions are split once): the trigger word, and the class word that goes with
    it, or with ``trigger`` (the configured trigger word) when the captions share none."""
    tokenised = [caption_words(c) for c in captions]
    found = _trigger(tokenised)
    return found, _class(tokenised, found.word if found else trigger)


def trigger_candidate(captions: Sequence[str]) -> WordCandidate | None:
    """The word most captions share that is not an ordinary caption word (see the module docstring)."""
    return _trigger([caption_words(c) for c in captions])


def class_candidate(captions: Sequence[str], trigger: str | None = None) -> WordCandidate | None:
    """The noun the captions use for what ``trigger`` (or a placeholder) stands for (see the module docstring)."""
    return _class([caption_words(c) for c in captions], trigger)


def _ordinary(word: str) -> bool:
    """A placeholder, a number, or a word on the lists (a compound such as ``close-up``: each of its parts)."""
    if word == _ANCHOR or word.isdigit():
        return True
    known = _lists()[0]
    return word.lower() in known or all(p in known or p.isdigit() for p in _JOINERS.split(word.lower()))


def _trigger(tokenised: list[list[str]]) -> WordCandidate | None:
    total = len(tokenised)
    if total < MIN_CAPTIONS:
        return None
    counts: Counter[str] = Counter()
    for words in tokenised:
        counts.update(set(words))
    shared = [w for w, n in counts.items() if n >= TRIGGER_SHARE * total and not _ordinary(w)]
    if not shared:
        return None
    place = {w: 0.0 for w in shared}  # summed relative position of the first occurrence, for the tie-break
    for words in tokenised:
        first = dict(zip(reversed(words), range(len(words) - 1, -1, -1)))
        for w in shared:
            if w in first:
                place[w] += first[w] / len(words)
    best = min(shared, key=lambda w: (-counts[w], place[w] / counts[w], w))
    return WordCandidate(best, counts[best], total, f"'{best}' is in {counts[best]} of {total} captions")


def _class(tokenised: list[list[str]], trigger: str | None) -> WordCandidate | None:
    anchors = {trigger, _ANCHOR} if trigger else {_ANCHOR}
    anchored = [words for words in tokenised if not anchors.isdisjoint(words)]
    if len(anchored) < MIN_CAPTIONS:
        return _most_common_class(tokenised)
    named = Counter(w for w in (_named_class(words, anchors) for words in anchored) if w)
    if not named:
        return None
    word, n = min(named.items(), key=lambda kv: (-kv[1], kv[0]))
    if n < CLASS_SHARE * len(anchored):
        return None
    return WordCandidate(word, n, len(anchored),
                         f"'{word}' goes with '{trigger or _ANCHOR}' in {n} of the {len(anchored)} captions "
                         "that hold it")


def _named_class(words: list[str], anchors: set[str]) -> str | None:
    """The class word one caption gives its anchor: a class noun first, then another word; after it, then before."""
    at = next(i for i, w in enumerate(words) if w in anchors)
    after = words[at + 1: at + 1 + CLASS_WINDOW]
    before = words[max(0, at - CLASS_WINDOW): at][::-1]
    _, nouns, plain = _lists()
    for word in after + before:
        if word.lower() in nouns:
            return word.lower()
    for word in after + before:
        if word.lower() not in plain and not word.isdigit() and word not in anchors and word != _ANCHOR:
            return word.lower()
    return None


def _most_common_class(tokenised: list[list[str]]) -> WordCandidate | None:
    if len(tokenised) < MIN_CAPTIONS:
        return None
    nouns = _lists()[1]
    counts = Counter(w for words in tokenised for w in {w.lower() for w in words} if w in nouns)
    if not counts:
        return None
    word, n = min(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    if n < CLASS_SHARE * len(tokenised):
        return None
    return WordCandidate(word, n, len(tokenised), f"'{word}' is in {n} of {len(tokenised)} captions")
