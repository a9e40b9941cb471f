"""Mask secrets and personal data before text is stored, indexed or shown to an LLM.

Detected: Slack tokens (``xox?-``, ``xapp-``), Discord bot tokens, AWS access key ids and secret keys
(when labelled), GitHub tokens (classic ``gh?_`` and fine-grained ``github_pat_``), OpenAI-style keys,
JWTs, PEM private keys, generic ``password=`` / ``api_key:`` assignments, e-mail addresses and phone
numbers. Each match is replaced by a typed placeholder such as ``[redacted:slack-token]`` so the
surrounding text keeps its meaning for retrieval ("my [redacted:email] gets a 403").

Phone numbers are the fuzziest class: to keep precision on technical chat (version strings, dates,
port numbers, hashes, IPs), a phone must either start with ``+`` and a country code, or follow a
North-American/European grouping with separators, and contain 9-15 digits.
Precision and recall are measured on a labelled list (``benchmarks/redaction.py``).
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from heapq import merge


@dataclass(frozen=True, slots=True)
class Rule:
    """A named detector. ``triggers``: lower-case substrings one of which must occur for the rule to
    run at all; this cheap pre-check keeps redaction off the hot path of imports (most messages hold
    no secret, and substring search is far cheaper than a regex scan)."""

    kind: str
    pattern: re.Pattern[str]
    group: int = 0
    triggers: tuple[str, ...] = ()
    # For rules without a substring trigger: a cheap regex that must match somewhere first.
    gate: re.Pattern[str] | None = None


def _r(
    kind: str, pattern: str, flags: int = 0, group: int = 0, triggers: tuple[str, ...] = (), gate: str | None = None
) -> Rule:
    return Rule(kind, re.compile(pattern, flags), group, triggers, re.compile(gate) if gate else None)


_SECRET_WORDS = ("password", "passwd", "pwd", "secret", "api", "token")


# Order matters: specific token shapes first, generic ones (assignments, e-mail, phone) last.
DEFAULT_RULES: tuple[Rule, ...] = (
    _r(
        "private-key",
        r"-----BEGIN (?:[A-Z0-9]+ )?PRIVATE KEY-----[\s\S]*?(?:-----END (?:[A-Z0-9]+ )?PRIVATE KEY-----|$)",
        triggers=("private key-----",),
    ),
    _r("slack-token", r"\bxox[abposre]-(?:\d+-)*[A-Za-z0-9-]{10,}\b", triggers=("xox",)),
    _r("slack-token", r"\bxapp-\d-[A-Za-z0-9-]{10,}\b", triggers=("xapp-",)),
    _r("slack-webhook", r"https://hooks\.slack\.com/services/[A-Za-z0-9/_-]+", triggers=("hooks.slack.com",)),
    # The gate (the token's middle part) lets batch screening skip the rule without a per-message test.
    _r(
        "discord-token",
        r"\b[MNO][A-Za-z\d_-]{23,25}\.[A-Za-z\d_-]{6}\.[A-Za-z\d_-]{27,38}\b",
        gate=r"\.[A-Za-z\d_-]{6}\.",
    ),
    _r(
        "discord-webhook",
        r"https://(?:canary\.|ptb\.)?discord(?:app)?\.com/api/webhooks/\d+/[A-Za-z0-9_-]+",
        triggers=("/api/webhooks/",),
    ),
    _r("github-token", r"\bgh[pousr]_[A-Za-z0-9]{36,}\b", triggers=("gh",)),
    _r("github-token", r"\bgithub_pat_[A-Za-z0-9_]{50,}\b", triggers=("github_pat_",)),
    _r(
        "aws-access-key",
        r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}\b",
        triggers=("akia", "asia", "agpa", "aida", "aroa"),
    ),
    _r(
        "aws-secret-key",
        r"(?i)\baws_?secret_?(?:access_?)?key\b\s*[:=]\s*[\"']?([A-Za-z0-9/+=]{40})\b",
        group=1,
        triggers=("secret",),
    ),
    _r("api-key", r"\bsk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}\b", triggers=("sk-",)),
    _r("google-api-key", r"\bAIza[0-9A-Za-z_-]{35}\b", triggers=("aiza",)),
    # One attempt per run of token characters: the look-ahead checks the run once for a JWT's
    # shape, then the token is the first "eyJ" at a word boundary in it (so one glued after "id-"
    # or "Bearer-" is masked, group 1). With a bare ``\beyJ`` every "-eyJ" of a long
    # "eyJa-eyJa-..." run was a start that scanned the rest of the run (100 kB: seconds).
    _r(
        "jwt",
        r"(?<![A-Za-z0-9_-])(?=[A-Za-z0-9_-]*\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\b)"
        r"[A-Za-z0-9_-]*?\b(eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})\b",
        group=1,
        triggers=("eyj",),
        gate=r"\.eyJ",
    ),
    _r(
        "secret-assignment",
        r"(?i)\b(?:password|passwd|pwd|secret|api[_-]?key|access[_-]?token|auth[_-]?token|client[_-]?secret)\b"
        r"\s*[:=]\s*[\"']?([^\s\"',;]{6,})",
        group=1,
        triggers=_SECRET_WORDS,
    ),
    _r(
        "email",
        r"(?<![\w.%+-])[\w.%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}\b",
        triggers=("@",),
    ),
    _r(
        "phone",
        r"(?<![\w+.-])\+[1-9]\d{0,2}[\s.-]?\(?\d{1,4}\)?(?:[\s.-]?\d{2,4}){2,4}(?![\w.-])",
        triggers=("+",),
    ),
    _r("phone", r"(?<![\w.-])\(\d{3}\)\s?\d{3}[\s.-]\d{4}(?![\w.-])", triggers=("(",)),
    # The look-behind makes this scan slow at every position; the gate (the middle group with its
    # separators) rejects almost every message several times faster.
    _r("phone", r"(?<![\w.-])\d{3}[.-]\d{3}[.-]\d{4}(?![\w.-])", gate=r"[.-]\d{3}[.-]"),
)


def _digit_count(text: str) -> int:
    return sum(ch.isdigit() for ch in text)


class Redactor:
    """Applies the default rules plus configured extra patterns (``privacy.extra_redaction_patterns``)."""

    def __init__(self, extra_patterns: Iterable[str] = ()) -> None:
        extra = tuple(_r("custom", p) for p in extra_patterns)
        self.rules: tuple[Rule, ...] = DEFAULT_RULES + extra
        # Rules whose trigger substrings are all absent are skipped; plain substring tests (C memchr)
        # are ~3x faster than one alternation regex scanning every position of every message.
        self._triggers = tuple(sorted({t for rule in self.rules for t in rule.triggers}))
        # Which rules each trigger arms, and the rules that always run. Most messages arm none or
        # one, so the per-message loop visits two or three rules instead of all of them.
        self._armed_by = {t: frozenset(i for i, r in enumerate(self.rules) if t in r.triggers) for t in self._triggers}
        self._always = frozenset(i for i, r in enumerate(self.rules) if not r.triggers)

    def find(self, text: str) -> list[tuple[int, int, str]]:
        """Non-overlapping ``(start, end, kind)`` spans, leftmost first."""
        lowered = text.lower()
        armed = set(self._always)
        # Overlapping triggers count too ("api" inside "/api/webhooks/").
        for t in self._triggers:
            if t in lowered:
                armed |= self._armed_by[t]
        return self._spans(text, armed)

    def _spans(self, text: str, armed: set[int] | frozenset[int]) -> list[tuple[int, int, str]]:
        """The spans of the ``armed`` rules (indexes into :attr:`rules`) in ``text``."""
        # Kept sorted and non-overlapping, so a match is checked against its one predecessor by
        # bisection: comparing it with every span kept so far made a long paste of addresses or
        # phone numbers quadratic (200 kB of e-mails: 15 s with the event loop blocked).
        spans: list[tuple[int, int, str]] = []
        starts: list[int] = []
        long_enough = len(text) >= 59  # the shortest Discord token
        for i in sorted(armed):  # rule order matters: specific shapes before generic ones
            rule = self.rules[i]
            if rule.kind == "discord-token" and not (long_enough and text.count(".") >= 2):
                continue
            if rule.gate is not None and rule.gate.search(text) is None:
                continue
            found: list[tuple[int, int, str]] = []  # this rule's spans: in order, never overlapping
            for m in rule.pattern.finditer(text):
                start, end = m.span(rule.group)
                if start < 0 or start == end:
                    continue
                if rule.kind == "phone" and not 9 <= _digit_count(m.group(0)) <= 15:
                    continue
                # The kept span starting last before ``end`` also ends last: only it can overlap.
                before = bisect_left(starts, end) - 1
                if before >= 0 and spans[before][1] > start:
                    continue
                found.append((start, end, rule.kind))
            if found:
                spans = list(merge(spans, found))
                starts = [s for s, _, _ in spans]
        return spans

    def _armed_many(self, texts: Sequence[str]) -> dict[int, set[int]]:
        """For each text (by position) that arms any rule, the rules it arms.

        The texts are joined with NUL and each trigger (and each always-on rule's gate) is searched
        once over the whole batch, instead of every trigger once per message: on an import most
        messages arm nothing, and one scan of a long string costs far less than many short scans
        plus the interpreter's loop around them. A trigger or gate hit is attributed to the text
        holding its first character; neither can match across the NUL separator (triggers hold no
        NUL, and a gate hit that did would only arm a rule that then re-checks the single text).
        """
        armed: dict[int, set[int]] = {}
        if not texts:
            return armed
        lowered = [t.lower() for t in texts]
        joined_lower = "\x00".join(lowered)
        starts_lower = _starts(lowered)
        for t in self._triggers:
            rules = self._armed_by[t]
            pos = joined_lower.find(t)
            while pos != -1:
                i = bisect_right(starts_lower, pos) - 1
                armed.setdefault(i, set()).update(rules)
                # One hit per text is enough: continue from the next text.
                if i + 1 >= len(starts_lower):
                    break
                pos = joined_lower.find(t, starts_lower[i + 1])
        ungated = [r for r in sorted(self._always) if self.rules[r].gate is None]
        gated = [r for r in sorted(self._always) if self.rules[r].gate is not None]
        if ungated:
            for i in range(len(texts)):
                armed.setdefault(i, set()).update(ungated)
        if gated:
            joined = "\x00".join(texts)
            starts = _starts(texts)
            for r in gated:
                gate = self.rules[r].gate
                assert gate is not None
                for m in gate.finditer(joined):
                    armed.setdefault(bisect_right(starts, m.start()) - 1, set()).add(r)
        return armed

    def redact_many(self, texts: Sequence[str]) -> list[str]:
        """``[self.redact(t) for t in texts]``, screened in one pass over the batch (imports)."""
        out = list(texts)
        for i, rules in self._armed_many(texts).items():
            spans = self._spans(texts[i], rules)
            if spans:
                out[i] = _mask(texts[i], spans)
        return out

    def redact(self, text: str) -> str:
        """``text`` with every detected span replaced by ``[redacted:kind]``."""
        spans = self.find(text)
        return _mask(text, spans) if spans else text


def _starts(texts: Sequence[str]) -> list[int]:
    """Where each text begins in ``"\\x00".join(texts)``."""
    starts = [0]
    for t in texts[:-1]:
        starts.append(starts[-1] + len(t) + 1)
    return starts


def _mask(text: str, spans: list[tuple[int, int, str]]) -> str:
    out: list[str] = []
    last = 0
    for start, end, kind in spans:
        out.append(text[last:start])
        out.append(f"[redacted:{kind}]")
        last = end
    out.append(text[last:])
    return "".join(out)


_DEFAULT = Redactor()


def redact(text: str) -> str:
    """Redact with the default rules."""
    return _DEFAULT.redact(text)
