"""The trigger- and class-word candidates read from captions (engine._caption_words), on small generated sets."""

from __future__ import annotations

import random

import pytest

from nbwizard.engine._caption_words import (
    CLASS_SHARE, TRIGGER_SHARE, caption_words, class_candidate, trigger_candidate, word_candidates)

SCENES = ["on the beach", "in a park", "sitting on grass", "in the snow", "next to a red car", "at night",
          "in a studio", "looking at the camera", "on a wooden table", "with a ball"]


def _captions(template: str, n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [template.format(scene=rng.choice(SCENES)) for _ in range(n)]


def test_the_word_most_captions_share_is_the_trigger_candidate_with_its_evidence():
    caps = _captions("a photo of sks dog {scene}", 23) + _captions("a photo of a dog {scene}", 2, seed=1)
    found = trigger_candidate(caps)
    assert (found.word, found.captions, found.of) == ("sks", 23, 25)
    assert found.evidence == "'sks' is in 23 of 25 captions"


def test_ordinary_english_and_caption_words_are_never_the_trigger():
    caps = _captions("a close-up photo of the dog, pose {scene}, 4k, 2024", 25)
    assert trigger_candidate(caps) is None  # "a", "photo", "the", "dog", "pose", "4k", numbers: all ordinary


@pytest.mark.parametrize(("holding", "found"), [(19, False), (20, True)])
def test_the_trigger_share_threshold_is_80_percent(holding, found):
    assert TRIGGER_SHARE == 0.8
    caps = _captions("ohwx man {scene}", holding) + _captions("a man {scene}", 25 - holding, seed=1)
    assert (trigger_candidate(caps) is not None) == found


def test_a_rare_word_wins_over_a_shared_ordinary_one_and_names_count_as_rare():
    caps = [f"portrait of Emma, pose {i}, photo" for i in range(10)]
    assert trigger_candidate(caps).word == "Emma"  # "portrait", "pose", "photo" are ordinary words


def test_of_two_rare_words_the_more_shared_then_the_earlier_wins():
    assert trigger_candidate(["zxc qwv"] * 9 + ["qwv"]).word == "qwv"  # 10 of 10 beats 9 of 10
    assert trigger_candidate(["zxc qwv"] * 10).word == "zxc"  # a tie: the one that comes first


def test_the_trigger_match_is_case_sensitive_as_in_the_trainer():
    assert trigger_candidate(["Sks dog"] * 5 + ["sks dog"] * 5) is None  # 5 + 5, never 8 of 10 as written


def test_too_few_captions_give_no_candidate():
    assert trigger_candidate(["sks dog"]) is None and trigger_candidate([]) is None
    assert word_candidates([]) == (None, None)


@pytest.mark.parametrize(("template", "trigger", "cls"), [
    ("sks dog {scene}", "sks", "dog"),
    ("a photo of ohwx man {scene}", "ohwx", "man"),
    ("ohwx, a man {scene}", "ohwx", "man"),  # function words between are skipped
    ("zxc person {scene}", "zxc", "person"),
    ("a photo of sks young woman {scene}", "sks", "woman"),  # a class noun beats an adjective
    ("a wooden toy, sks, {scene}", "sks", "toy"),  # nothing after it: the noun before
    ("a painting in qwz style, {scene}", "qwz", "style"),
    ("sks teapot {scene}", "sks", "teapot"),  # not a listed class noun, but a word that names a thing
])
def test_the_class_word_is_the_noun_that_goes_with_the_trigger(template, trigger, cls):
    found_trigger, found_class = word_candidates(_captions(template, 12))
    assert found_trigger.word == trigger and found_class.word == cls
    assert found_class.evidence == f"'{cls}' goes with '{trigger}' in 12 of the 12 captions that hold it"


def test_the_class_word_follows_a_placeholder_when_the_captions_use_one():
    caps = _captions("a photo of [trigger] dog {scene}", 8)
    assert caption_words(caps[0])[:5] == ["a", "photo", "of", "[trigger]", "dog"]
    assert word_candidates(caps) == (None, class_candidate(caps))
    assert class_candidate(caps).word == "dog"


def test_the_configured_trigger_anchors_the_class_word_when_the_captions_share_none():
    caps = _captions("tok cat {scene}", 6) + _captions("a cat {scene}", 6, seed=1)  # tok in half: no candidate
    trigger, cls = word_candidates(caps, trigger="tok")
    assert trigger is None and cls.word == "cat" and (cls.captions, cls.of) == (6, 6)


def test_without_an_anchor_the_class_noun_most_captions_hold_is_the_candidate():
    cls = class_candidate(_captions("a dog {scene}", 7) + _captions("a cat {scene}", 3, seed=1))
    assert (cls.word, cls.captions, cls.of) == ("dog", 7, 10) and cls.evidence == "'dog' is in 7 of 10 captions"


def test_a_class_word_needs_half_of_the_anchored_captions():
    assert CLASS_SHARE == 0.5
    nouns = ["dog", "cat", "car", "toy"]
    caps = [f"sks {nouns[i % 4]} {SCENES[i]}" for i in range(10)]  # no noun in half of them
    assert trigger_candidate(caps).word == "sks" and class_candidate(caps, "sks") is None
