"""Service URLs (database, Redis) in messages and logs without their passwords.

The URL is masked as written, not parsed: ``urlsplit`` gives no password when the raw one holds
``/``, ``#`` or ``?`` (a base64 secret pasted unescaped), and the whole URL, password included,
would then be printed. An error message naming a piece of such a password is held back too.
"""

from __future__ import annotations

import re

# scheme://user:password@host...: the user info runs to the LAST "@" before the path, as a
# password may hold "@", "/" or "#" when it was pasted without percent-encoding.
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
# libpq and others also take the password as a query parameter.
_QUERY_PASSWORD = re.compile(r"(?i)([?&](?:password|pass|pwd)=)[^&#]*")
MASK = "***"
# A run of this many characters of the password in an error message counts as showing it.
_LEAK_RUN = 4


def password_of(url: str) -> str:
    """The password written in ``url`` (user info or query), or ``""``."""
    found = _user_info(url)
    if found is not None and ":" in found:
        return found.split(":", 1)[1]
    query = _QUERY_PASSWORD.search(url)
    return query.group(0).split("=", 1)[1] if query else ""


def without_password(url: str) -> str:
    """``url`` with its password replaced by ``***`` (the user, host and port kept as written)."""
    scheme = _SCHEME.match(url)
    info = _user_info(url)
    if scheme is not None and info is not None and ":" in info:
        user = info.split(":", 1)[0]
        url = f"{scheme.group(0)}{user}:{MASK}@{url[scheme.end() + len(info) + 1 :]}"
    return _QUERY_PASSWORD.sub(lambda m: m.group(1) + MASK, url)


def shows_password(text: str, url: str) -> bool:
    """Whether ``text`` (an error message) holds the password of ``url`` or a piece of it."""
    secret = password_of(url)
    if not secret:
        return False
    if len(secret) <= _LEAK_RUN:
        return secret in text
    return any(secret[i : i + _LEAK_RUN] in text for i in range(len(secret) - _LEAK_RUN + 1))


def _user_info(url: str) -> str | None:
    scheme = _SCHEME.match(url)
    if scheme is None:
        return None
    rest = url[scheme.end() :]
    # The user info runs to the last "@": a "/", "?" or "#" before it is an unescaped password's.
    at = rest.rfind("@")
    return rest[:at] if at >= 0 else None
