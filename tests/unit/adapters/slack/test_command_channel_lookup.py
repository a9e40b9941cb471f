"""A slash command in a channel the bot has not seen: the channel is looked up before the command is
published, so an answer in a Slack Connect channel uses that channel's history alone.

Commands work in channels the bot is not in, where no event ever taught it the channel. A real Bolt
``AsyncApp`` against the fake Web API; the scope is :func:`brain.qa.access.scope_for`'s, as the QA
brain asks it.
"""

from __future__ import annotations

from typing import Any

from bot.config import Settings
from bot.events import CommandInvoked, Visibility
from bot.store import Store
from brain.qa.access import AccessScope, scope_for
from tests.slack_fakes import SIGNING_SECRET, TEAM_ID, FakeSlackAPI, slash_form
from tests.unit.adapters.slack.test_lifecycle_slack import Wired, wire

SETTINGS = {"brains": [], "slack": {"bot_token": "xoxb-test", "signing_secret": SIGNING_SECRET}}
VENDOR = {"id": "CVENDOR", "name": "acme-support", "is_channel": True, "is_private": False, "is_ext_shared": True}


def wired(fake: FakeSlackAPI, store: Store) -> tuple[Wired, list[CommandInvoked]]:
    slack = wire(Settings.model_validate(SETTINGS), store, fake)
    seen: list[CommandInvoked] = []

    async def collect(event: CommandInvoked) -> None:
        seen.append(event)

    slack.bus.subscribe(CommandInvoked, collect, name="test.commands")
    return slack, seen


def ask(channel_id: str, channel_name: str, *, user: str = "UALICE", trigger: str = "t1") -> dict[str, Any]:
    return {**slash_form("/ask", "what is the prod db password?", user=user, trigger=trigger)} | {
        "channel_id": channel_id,
        "channel_name": channel_name,
    }


async def scope(store: Store, cmd: CommandInvoked) -> AccessScope:
    return await scope_for(store, cmd.channel, cmd.user.user_id, guest=cmd.user.guest, external=cmd.user.external)


async def test_ask_in_an_unseen_slack_connect_channel_uses_that_channel_alone(fake: FakeSlackAPI, store: Store) -> None:
    slack, seen = wired(fake, store)
    fake.conversations["CVENDOR"] = VENDOR
    await slack.dispatch(ask("CVENDOR", "acme-support"))
    assert seen[-1].channel.shared_externally is True
    assert seen[-1].channel.visibility is Visibility.PUBLIC
    assert await scope(store, seen[-1]) == AccessScope("slack", TEAM_ID, frozenset({"CVENDOR"}), include_public=False)
    # Looked up once per process: the next command there asks Slack nothing more.
    await slack.dispatch(ask("CVENDOR", "acme-support", trigger="t2"))
    assert seen[-1].channel.shared_externally is True
    assert len(fake.calls_to("conversations.info")) == 1


async def test_ask_in_an_unseen_ordinary_channel_keeps_public_history(fake: FakeSlackAPI, store: Store) -> None:
    slack, seen = wired(fake, store)
    await slack.dispatch(ask("CHELP", "help"))
    assert seen[-1].channel.shared_externally is False
    assert await scope(store, seen[-1]) == AccessScope("slack", TEAM_ID)


async def test_a_channel_slack_does_not_describe_is_treated_as_shared(fake: FakeSlackAPI, store: Store) -> None:
    """A group DM or a channel ``conversations.info`` refuses: its readers' organisations are unknown."""
    slack, seen = wired(fake, store)
    await slack.dispatch(ask("GMPIM", "privategroup"))
    assert seen[-1].channel.shared_externally is True
    assert (await scope(store, seen[-1])).include_public is False


async def test_no_answer_from_slack_is_treated_as_shared_and_asked_again(fake: FakeSlackAPI, store: Store) -> None:
    slack, seen = wired(fake, store)
    fake.conversations["CVENDOR"] = {**VENDOR, "is_ext_shared": False}
    fake.fail("conversations.info", "internal_error")
    await slack.dispatch(ask("CVENDOR", "acme-support"))
    assert seen[-1].channel.shared_externally is True
    await slack.dispatch(ask("CVENDOR", "acme-support", trigger="t2"))
    assert seen[-1].channel.shared_externally is False
    assert len(fake.calls_to("conversations.info")) == 2


async def test_a_dm_between_members_is_answered_from_that_conversation_alone(fake: FakeSlackAPI, store: Store) -> None:
    """Slack does not describe a DM the bot is not in: the partner may be of another organisation."""
    slack, seen = wired(fake, store)
    await slack.dispatch(ask("DPAIR", "directmessage"))
    assert seen[-1].channel.shared_externally is True
    assert await scope(store, seen[-1]) == AccessScope("slack", TEAM_ID, frozenset({"DPAIR"}), include_public=False)


async def test_the_bots_own_dm_is_not_treated_as_shared(fake: FakeSlackAPI, store: Store) -> None:
    slack, seen = wired(fake, store)
    slack.adapter.learn_dm(TEAM_ID, "UALICE", "DALICE")
    await slack.dispatch(ask("DALICE", "directmessage"))
    assert seen[-1].channel.visibility is Visibility.DM
    assert not seen[-1].channel.shared_externally
    assert (await scope(store, seen[-1])).include_public is True
    assert fake.calls_to("conversations.info") == []
