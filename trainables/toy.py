"""Generated toy tasks, shaped like GLUE tasks, for the demo and the tests.

Two generators, both deterministic in ``(n, seed)`` and written by our own code:

- single sentence (shaped like SST-2 / CoLA): sentences of filler words with a few polar
  words; the label is the sign of (positive - negative), with 10% of labels flipped so
  that no model reaches 1.0 and fronts have something to show.
- sentence pair (shaped like MRPC / QQP / MNLI / STS-B): the second sentence is a reworded
  copy of the first (paraphrase / entailment), a copy with a changed key word (not a
  paraphrase / neutral), or a negated copy (contradiction); STS-B gets a 0-5 overlap score.

The tiny model's vocabulary is these words plus single characters, so every toy sentence
tokenises without an unknown token.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass

POSITIVE = ("good", "great", "fine", "lovely", "superb", "bright", "warm", "happy", "brilliant",
            "charming", "solid", "clever", "fresh", "gentle", "vivid")
NEGATIVE = ("bad", "awful", "dull", "poor", "grim", "weak", "boring", "sad", "clumsy", "bleak",
            "stale", "harsh", "messy", "noisy", "flat")
SUBJECTS = ("the film", "the book", "the song", "the meal", "the trip", "the show", "the game",
            "the play", "the hotel", "the class", "the city", "the team")
VERBS = ("seems", "looks", "feels", "sounds", "was", "is", "became", "stays")
FILLER = ("and", "a", "very", "quite", "really", "but", "also", "then", "with", "of", "in",
          "on", "at", "for", "to", "this", "that", "it", "some", "many", "story", "music",
          "plot", "cast", "food", "room", "view", "ending", "start", "part", "day", "night")
NOUNS = ("cat", "dog", "car", "house", "river", "tree", "lamp", "chair", "phone", "garden",
         "bridge", "train", "boat", "window", "letter", "market")
PLACES = ("park", "school", "office", "station", "kitchen", "museum", "beach", "library")
SYNONYMS = {"big": "large", "small": "little", "quick": "fast", "old": "ancient",
            "near": "beside", "saw": "noticed", "bought": "purchased", "found": "discovered"}
PAIR_VERBS = tuple(SYNONYMS)[5:] + ("sold", "lost", "painted", "moved")
PAIR_ADJ = tuple(SYNONYMS)[:5] + ("red", "new", "green")
NEGATION = "not"


def tiny_vocabulary() -> list[str]:
    """Special tokens, every toy word, then characters and '##' pieces for anything else."""
    words: set[str] = set()
    for group in (POSITIVE, NEGATIVE, VERBS, FILLER, NOUNS, PLACES, PAIR_VERBS, PAIR_ADJ,
                  tuple(SYNONYMS.values()), ("the", "near", NEGATION, "did", "he", "she",
                                             "they", "we", "i", "you", "in", "by")):
        words.update(w for phrase in group for w in phrase.split())
    for subject in SUBJECTS:
        words.update(subject.split())
    chars = list(string.ascii_lowercase + string.digits + string.punctuation)
    return (["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + sorted(words) + chars
            + [f"##{c}" for c in string.ascii_lowercase + string.digits])


@dataclass(frozen=True)
class ToyExamples:
    text_a: list[str]
    text_b: list[str] | None
    labels: list[float] | list[int]


def _single(rng: random.Random) -> tuple[str, int]:
    n_pos, n_neg = rng.randint(0, 3), rng.randint(0, 3)
    while n_pos == n_neg:
        n_pos, n_neg = rng.randint(0, 3), rng.randint(0, 3)
    words = [rng.choice(SUBJECTS), rng.choice(VERBS)]
    words += [rng.choice(POSITIVE) for _ in range(n_pos)]
    words += [rng.choice(NEGATIVE) for _ in range(n_neg)]
    words += [rng.choice(FILLER) for _ in range(rng.randint(2, 8))]
    head, tail = words[:2], words[2:]
    rng.shuffle(tail)
    label = int(n_pos > n_neg)
    if rng.random() < 0.1:
        label = 1 - label
    return " ".join(head + tail), label


def _pair_sentence(rng: random.Random) -> list[str]:
    return [rng.choice(("he", "she", "they", "we")), rng.choice(PAIR_VERBS), "the",
            rng.choice(PAIR_ADJ), rng.choice(NOUNS), rng.choice(("near", "in", "by")), "the",
            rng.choice(PLACES)]


def _reword(rng: random.Random, words: list[str]) -> list[str]:
    out = [SYNONYMS.get(w, w) if rng.random() < 0.7 else w for w in words]
    return out


def _pair(rng: random.Random, num_labels: int) -> tuple[str, str, float]:
    a = _pair_sentence(rng)
    kind = rng.randrange(3 if num_labels == 3 else 2)
    if kind == 0:  # paraphrase / entailment
        b = _reword(rng, a)
    elif kind == 1:  # a changed key word: not a paraphrase / neutral
        b = list(a)
        slot = rng.choice((1, 4, 7))
        pool = {1: PAIR_VERBS, 4: NOUNS, 7: PLACES}[slot]
        b[slot] = rng.choice([w for w in pool if w != a[slot]])
        b = _reword(rng, b)
    else:  # contradiction: negated copy
        b = _reword(rng, a)
        b = b[:1] + ["did", NEGATION] + b[1:]
    if num_labels == 1:  # STS-B-shaped similarity in [0, 5]
        overlap = len(set(a) & set(b)) / len(set(a) | set(b))
        return " ".join(a), " ".join(b), round(5.0 * overlap, 3)
    label = {2: {0: 1, 1: 0}, 3: {0: 0, 1: 1, 2: 2}}[num_labels][kind]
    if rng.random() < 0.1:
        label = rng.choice([x for x in range(num_labels) if x != label])
    return " ".join(a), " ".join(b), label


def generate(*, pair: bool, num_labels: int, n: int, seed: int) -> ToyExamples:
    """``n`` examples of a toy task; the same arguments always give the same examples.

    Args:
        pair: sentence-pair task (else single sentence, which must be binary).
        num_labels: 2 or 3 for classification, 1 for an STS-B-like regression.
        n: number of examples.
        seed: the generator's seed (use different seeds for train and eval splits).
    """
    if n < 0:
        raise ValueError(f"`n` must be >= 0, but got {n=}")
    if not pair and num_labels != 2:
        raise ValueError(f"toy single-sentence tasks are binary, but got {num_labels=}")
    if pair and num_labels not in (1, 2, 3):
        raise ValueError(f"toy pair tasks have 1, 2 or 3 labels, but got {num_labels=}")
    rng = random.Random(f"toy-{pair}-{num_labels}-{seed}")
    if not pair:
        rows = [_single(rng) for _ in range(n)]
        return ToyExamples([r[0] for r in rows], None, [r[1] for r in rows])
    rows = [_pair(rng, num_labels) for _ in range(n)]
    return ToyExamples([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])
