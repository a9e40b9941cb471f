"""Hindi ends a sentence with a danda (।, ॥) and Arabic asks with ؟: both were read as one long
sentence, or as a statement, by the grounding check."""

from __future__ import annotations

from brain.qa import grounding


def test_a_danda_ends_a_sentence() -> None:
    assert grounding.split_sentences("सर्वर बंद है। डेटाबेस भरा है।") == ["सर्वर बंद है।", "डेटाबेस भरा है।"]
    assert grounding.split_sentences("पहला पद समाप्त॥ दूसरा पद।") == ["पहला पद समाप्त॥", "दूसरा पद।"]


def test_the_arabic_question_mark_ends_a_question() -> None:
    assert grounding.split_sentences("هل الخادم يعمل؟ نعم يعمل.") == ["هل الخادم يعمل؟", "نعم يعمل."]
    assert grounding.is_question("هل الخادم يعمل؟")
    assert grounding.is_question("هل الخادم يعمل؟ [1]")
    assert not grounding.is_question("نعم يعمل.")


def test_a_sentence_ending_in_a_danda_is_finished() -> None:
    # Only a sentence cut off mid-way (the model's token limit) is dropped from the end of a draft.
    assert grounding.drop_unfinished_tail("सर्वर बंद है।\nडेटाबेस भरा है।") == "सर्वर बंद है।\nडेटाबेस भरा है।"
    assert grounding.drop_unfinished_tail("هل الخادم يعمل؟\nنعم يعمل؟") == "هل الخادم يعمل؟\nنعم يعمل؟"
    assert grounding.drop_unfinished_tail("सर्वर बंद है।\nडेटाबेस भरा") == "सर्वर बंद है।"
