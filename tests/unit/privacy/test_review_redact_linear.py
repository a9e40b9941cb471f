"""Redaction of long pastes full of matches or near-matches (the gate runs it inline, so a slow
message stalls every other event: 200 kB of addresses took 15 s before the spans were kept sorted).
Speed is not asserted (no timed unit tests); these pin the results on such inputs."""

from __future__ import annotations

import pytest

from bot.privacy.redact import Redactor, redact


def test_a_long_list_of_addresses_is_masked_whole() -> None:
    # 200 kB of e-mail addresses (a pasted mailing list): every match was compared with every span
    # kept before it, 15 s here before the fix; 1 MB took minutes.
    text = "a@b.co " * 30_000
    out = redact(text)
    assert out == "[redacted:email] " * 30_000


def test_a_long_list_of_phone_numbers_and_keys_is_masked_whole() -> None:
    text = ("+1 555 123 4567 " + "ghp_" + "a" * 36 + " ") * 10_000
    out = Redactor().redact_many([text, "nothing here"])
    assert out == [("[redacted:phone] [redacted:github-token] ") * 10_000, "nothing here"]


def test_a_run_of_jwt_lookalikes_is_left_as_it_is() -> None:
    # "eyJa-eyJa-...": each "-eyJ" was a token start whose first segment scanned the rest of the
    # run before failing (3 s for 100 kB, quadratic).
    text = "eyJa-" * 40_000
    assert redact(text) == text


def test_jwts_are_still_found_after_a_separator_or_a_leading_dash() -> None:
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.ptUsGr7CmY_uCu3ZR1zTOlUc"
    for before in ("", "Bearer ", "token=", "-", "(", "'"):
        assert redact(f"{before}{jwt} ok") == f"{before}[redacted:jwt] ok"


def test_overlapping_rules_keep_the_earlier_rule_and_leftmost_span() -> None:
    # A Slack token holding an e-mail-like tail: the token rule (earlier) wins; the separate e-mail
    # after it is still masked; nothing is masked twice.
    text = "xoxb-12345678-1234567890-abcdefghijklmnop and bob@example.com, xoxp-1-2-abcdefghijklmnop"
    assert redact(text) == "[redacted:slack-token] and [redacted:email], [redacted:slack-token]"


@pytest.mark.parametrize("before", ["id-", "Bearer-", "session_token-", "x--"])
def test_a_jwt_glued_after_a_hyphenated_word_is_still_masked(before: str) -> None:
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I6PlFUP0THsR8U"
    out = Redactor().redact(f"header {before}{token} sent")
    assert token not in out
    assert f"{before}[redacted:jwt]" in out
