"""Kinds of ``channel_access`` rows and the rule that reads the denials among them.

A private channel lists who reads it (members, roles) and, on Discord, whom a permission
overwrite keeps out although that list lets them in. The rule follows Discord's own order of
evaluation (role denies, then role allows, then the member's own overwrite), erring on the side of
showing less where the store cannot tell.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

USER = "user"  # reads it: a member listed by the platform, let in by an overwrite, or seen posting
ROLE = "role"  # members holding this role read it (the workspace's own id: every member)
USER_DENIED = "user_denied"  # a member's own overwrite keeps them out
ROLE_DENIED = "role_denied"  # holders are out unless a role of theirs overrides
ROLE_OVERRIDE = "role_override"  # this role's own overwrite lets its holders in despite a denied role


@dataclass(frozen=True, slots=True)
class AccessDenials:
    """Who a channel's overwrites keep out, and the roles that outweigh a denied role."""

    user_ids: tuple[str, ...] = ()
    role_ids: tuple[str, ...] = ()
    override_role_ids: tuple[str, ...] = ()


def passes_denials(rules: Iterable[tuple[str, str]], user_id: str, role_ids: set[str]) -> bool:
    """Whether a member passes one channel's ``(kind, principal)`` denial rules.

    ``role_ids`` empty means the member's roles are unknown: a channel denying any role is then
    closed to them (a member whose roles are known holds at least @everyone). An explicit member allow does not lift a denied role here, because the store
    cannot tell it from a post made before the role was given (the safe side).
    """
    denied_roles: set[str] = set()
    override_roles: set[str] = set()
    for kind, principal in rules:
        if kind == USER_DENIED and principal == user_id:
            return False
        if kind == ROLE_DENIED:
            denied_roles.add(principal)
        elif kind == ROLE_OVERRIDE:
            override_roles.add(principal)
    if not denied_roles:
        return True
    if not role_ids:
        return False
    return bool(role_ids & override_roles) or not (role_ids & denied_roles)
