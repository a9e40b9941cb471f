"""The rows of the core's bookkeeping tables that name a member, for their data export.

Two tables hold no words of the member but name them: ``channel_access`` (the private channels they
read, and those a permission overwrite keeps them out of) and ``audit_log`` (what they did as a
member or an admin, and what admins did about them). ``/forget-me`` keeps both: an access list says
what the member may read (dropping their denials would open a channel to them) and is re-listed by
the platform anyway, and the audit log is the record of who did what, kept without content.
"""

from __future__ import annotations

import json
import re
from typing import Any

from bot.store.channel_access import USER, USER_DENIED
from bot.store.db import Executor

# ``<@U123>``, ``<@!123>``, ``<@U123|name>``: a platform mention (group 1: the user id), inside a
# command's option text or, whole, a word of a "members" config value (bot.core_brain.member_mention).
# Neither part holds a "<" (platforms escape it): matching then stays linear, where a pasted
# "<@<@<@..." made every "<@" scan to the end of the text (40,000 characters: 21 s).
MEMBER_MENTION = re.compile(r"<@!?([^|<>\s]+)(?:\|[^<>]*)?>")
# Access kinds that name a member, in words.
_ACCESS = {USER: "reads", USER_DENIED: "kept out"}


async def channel_access_of(db: Executor, platform: str, workspace_id: str, user_id: str) -> list[dict[str, Any]]:
    """The private channels of one workspace whose access list names the member, with the channel's
    name where it is known: ``{"channel_id", "channel", "access": "reads" | "kept out"}``."""
    rows = await db.fetchall(
        "SELECT a.channel_id, c.name, a.principal_kind FROM channel_access a LEFT JOIN channels c "
        "ON c.platform = a.platform AND c.workspace_id = a.workspace_id AND c.channel_id = a.channel_id "
        "WHERE a.principal_id = ? AND a.platform = ? AND a.principal_kind IN (?, ?) AND a.workspace_id = ? "
        "ORDER BY a.channel_id, a.principal_kind",
        (user_id, platform, USER, USER_DENIED, workspace_id),
    )
    return [{"channel_id": r[0], "channel": r[1] or "", "access": _ACCESS[str(r[2])]} for r in rows]


async def audit_entries_of(db: Executor, platform: str, workspace_id: str, user_id: str) -> list[dict[str, Any]]:
    """The audit entries of one workspace that name the member, oldest first: what they did
    (``"as": "actor"``, with the entry's detail) and what was done about them (``"as": "subject"``:
    a detail names them, e.g. an admin putting them on a member list or exporting their data; the
    actor and the rest of the detail are left out, as they are someone else's)."""
    # The LIKE only narrows the rows read (a wildcard in an id widens it); whether an entry names the
    # member is decided on its parsed detail. The detail is stored as ASCII JSON: match the id so.
    needle = json.dumps(user_id)[1:-1]
    rows = await db.fetchall(
        "SELECT ts, action, allowed, actor_id, detail FROM audit_log WHERE platform = ? AND workspace_id = ? "
        "AND (actor_id = ? OR detail LIKE ?) ORDER BY ts, audit_id",
        (platform, workspace_id, user_id, f"%{needle}%"),
    )
    out: list[dict[str, Any]] = []
    for ts, action, allowed, actor, detail in rows:
        parsed = json.loads(str(detail or "{}"))
        entry = {"ts": ts, "action": action, "allowed": bool(allowed)}
        if actor == user_id:
            out.append({**entry, "as": "actor", "detail": parsed})
        elif names_member(parsed, user_id):
            out.append({**entry, "as": "subject"})
    return out


def names_member(value: Any, user_id: str) -> bool:
    """Whether a parsed JSON value names ``user_id``: as a whole string, or a mention in one."""
    if isinstance(value, str):
        return value == user_id or user_id in MEMBER_MENTION.findall(value)
    if isinstance(value, dict):
        return any(names_member(v, user_id) for v in value.values())
    if isinstance(value, list):
        return any(names_member(v, user_id) for v in value)
    return False
