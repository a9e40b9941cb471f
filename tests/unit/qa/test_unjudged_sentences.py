"""A sentence too short to judge ("Sure!", "Then reinstall Windows.") is kept only right before or
after a supported sentence of the same paragraph, and only when its words (courtesy aside) are in a
source: too short to judge is not too short to be wrong."""

from __future__ import annotations

import pytest

from bot.ml import ScoredUnit, Unit
from bot.testing import HashEmbedder
from brain.qa import grounding

NPM = "To fix ERR_CONNECTION_REFUSED start the dev server with npm run dev"
STEP = "Start the dev server with npm run dev to fix ERR_CONNECTION_REFUSED [1]."


def kept(draft: str) -> list[str]:
    unit = Unit("a", "slack", "T1", "C1", NPM, message_ids=("a",), url="https://x/a", ts_start=1_700_000_000)
    result = grounding.check(draft, [ScoredUnit(unit, 1.0)], HashEmbedder())
    checks = {c.text: (c.judged, c.supported) for c in result.sentences}
    assert checks[STEP] == (True, True)
    assert all(judged is False for text, (judged, _) in checks.items() if text != STEP)  # the rule under test
    return [c.text for c in result.kept]


def test_a_short_sentence_next_to_a_supported_one_is_kept() -> None:
    assert kept(f"Sure! {STEP}") == ["Sure!", STEP]
    assert kept(f"{STEP} Then run it.") == [STEP, "Then run it."]
    assert kept(f"{STEP}\nThen run it.") == [STEP, "Then run it."]  # a list's next line: the same paragraph


def test_a_short_sentence_away_from_any_supported_one_is_dropped() -> None:
    assert kept(f"{STEP}\n\nThen reinstall Windows.") == [STEP]  # another paragraph
    assert kept(f"{STEP} Then run it. Then reinstall Windows.") == [STEP, "Then run it."]  # two sentences away
    assert kept(f"Reinstall Windows.\n\n{STEP}") == [STEP]


def test_a_short_sentence_with_a_word_no_source_holds_is_dropped_even_next_to_a_supported_one() -> None:
    """Before, these rode along with the supported step: an invented instruction and a reversal."""
    assert kept(f"{STEP} Then reboot twice.") == [STEP]
    assert kept(f"{STEP} Never do that.") == [STEP]
    assert kept(f"{STEP} Then retry.") == [STEP]
    # Courtesy and lead-ins are no claims.
    assert kept(f"Sure! {STEP} Hope this helps!") == ["Sure!", STEP, "Hope this helps!"]
    assert kept(f"Try this:\n{STEP}") == ["Try this:", STEP]


@pytest.mark.parametrize("courtesy", ["¡Claro!", "Bonne chance !", "Gracias.", "Viel Erfolg!", "好的！"])
def test_courtesy_in_other_languages_rides_along_like_english(courtesy: str) -> None:
    assert kept(f"{courtesy} {STEP}") == [courtesy, STEP]


def test_assent_and_a_lead_in_to_nothing_are_claims() -> None:
    """ "Yes." may answer what the supported step does not say; an invented lead-in with nothing
    supported after it was kept as if it introduced something."""
    assert kept(f"Yes. {STEP}") == [STEP]
    assert kept(f"{STEP} Then format the disk:") == [STEP]
    assert kept(f"Then format the disk:\n{STEP}") == ["Then format the disk:", STEP]  # before what it introduces
