"""Redaction stays linear on long pastes full of matches or near-matches (the gate runs it inline,
so a slow message stalls every other event)."""

from __future__ import annotations

import time

from bot.privacy.redact import Redactor, redact


def test_a_long_list_of_addresses_is_masked_in_linear_time() -> None:
    # 200 kB of e-mail addresses (a pasted mailing list): every match was compared with every span
    # kept before it, 15 s here before the fix; 1 MB took minutes.
    text = "a@b.co " * 30_000
    start = time.perf_counter()
    out = redact(text)
    assert time.perf_counter() - start < 3.0
    assert out == "[redacted:email] " * 30_000


def test_a_long_list_of_phone_numbers_and_keys_is_masked_in_linear_time() -> None:
    text = ("+1 555 123 4567 " + "ghp_" + "a" * 36 + " ") * 10_000
    start = time.perf_counter()
    out = Redactor().redact_many([text, "nothing here"])
    assert time.perf_counter() - start < 3.0
    assert out == [("[redacted:phone] [redacted:github-token] ") * 10_000, "nothing here"]


def test_a_run_of_jwt_lookalikes_does_not_rescan_the_run_from_each_one() -> None:
    # "eyJa-eyJa-...": each "-eyJ" was a token start whose first segment scanned the rest of the
    # run before failing (3 s for 100 kB, quadratic).
    text = "eyJa-" * 40_000
    start = time.perf_counter()
    assert redact(text) == text
    assert time.perf_counter() - start < 3.0


def test_jwts_are_still_found_after_a_separator_or_a_leading_dash() -> None:
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.ptUsGr7CmY_uCu3ZR1zTOlUc"
    for before in ("", "Bearer ", "token=", "-", "(", "'"):
        assert redact(f"{before}{jwt} ok") == f"{before}[redacted:jwt] ok"


def test_overlapping_rules_keep_the_earlier_rule_and_leftmost_span() -> None:
    # A Slack token holding an e-mail-like tail: the token rule (earlier) wins; the separate e-mail
    # after it is still masked; nothing is masked twice.
    text = "xoxb-12345678-1234567890-abcdefghijklmnop and bob@example.com, xoxp-1-2-abcdefghijklmnop"
    assert redact(text) == "[redacted:slack-token] and [redacted:email], [redacted:slack-token]"
