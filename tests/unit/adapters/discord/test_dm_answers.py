"""DM questions through discord.py's real parsers to the QA brain: answered from the member's guild.

A DM belongs to no guild (workspace ``@me``); the QA brain scopes it to the guild the store knows the
member in, with the channels they may read there (``brain.qa.access.scope_for``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import discord
import pytest

from adapters.discord.adapter import DiscordAdapter, gateway_intents
from bot.app import GuildhallApp
from bot.config import Settings
from bot.testing import ScriptedLLM
from tests.unit.adapters.discord.fakes import (
    ALICE_ID,
    BOB_ID,
    GENERAL_ID,
    GUILD_ID,
    MOD_ROLE_ID,
    PRIVATE_ID,
    RecordingHTTP,
    dm_interaction_payload,
    feed,
    guild_create_payload,
    install,
    member_payload,
    message_payload,
    next_id,
    user_payload,
)
from tests.unit.adapters.discord.harness import drain
from tests.unit.qa.test_access_dm import allowing_private, echo_first_source

MESSAGES = "/channels/{channel_id}/messages"
FOLLOWUP = "/webhooks/{webhook_id}/{webhook_token}"
FIX = "To fix ERR_CONNECTION_REFUSED start the dev server with npm run dev"
SECRET = "Rotate STAGING_TOKEN with vault kv put secret/staging token=new"
CAROL_ID = "900000000000000103"  # joins later with the Mod role, which opens #staff
DORA_ID = "900000000000000104"  # joins later with no role
STRANGER_ID = "900000000000000199"  # shares no guild with the bot


@dataclass
class QAEnv:
    app: GuildhallApp
    client: discord.Client
    http: RecordingHTTP
    llm: ScriptedLLM

    def prompts(self) -> str:
        return "\n".join(m.content for p in self.llm.prompts for m in p)


@pytest.fixture
async def qa(make_app: Any, monkeypatch: pytest.MonkeyPatch, discord_settings: Settings) -> AsyncIterator[QAEnv]:
    """The QA brain behind a real client: #general holds the fix, #staff (Bob and the Mod role) a
    secret; Alice has said hello in #general, so the store knows her as a member of the guild."""
    llm = ScriptedLLM(echo_first_source)
    app, _ = await make_app(brains=["qa"], llm=llm, settings_override=allowing_private(discord_settings, "staff"))
    client = discord.Client(intents=gateway_intents(), chunk_guilds_at_startup=False)
    async with client:
        http = install(client, monkeypatch)
        app.add_adapter(DiscordAdapter(discord_settings, client=client))
        feed(client, "GUILD_CREATE", guild_create_payload())
        bob = user_payload(BOB_ID, "bob")
        feed(client, "MESSAGE_CREATE", message_payload(GENERAL_ID, FIX, author=bob))
        feed(client, "MESSAGE_CREATE", message_payload(PRIVATE_ID, SECRET, author=bob))
        feed(client, "MESSAGE_CREATE", message_payload(GENERAL_ID, "hello everyone"))
        await drain(app)
        yield QAEnv(app, client, http, llm)


async def dm(env: QAEnv, user_id: str, name: str, text: str) -> str:
    """DM the bot as ``user_id``; the text of the bot's reply in that DM."""
    channel_id = next_id()
    feed(
        env.client,
        "MESSAGE_CREATE",
        message_payload(channel_id, text, author=user_payload(user_id, name), guild_id=None),
    )
    await drain(env.app)
    [reply] = [c for c in env.http.sent("POST", MESSAGES) if channel_id in c.url]
    content: str = reply.json["content"]
    return content + "".join(f"\n{e.get('description', '')}" for e in reply.json.get("embeds", []))


async def test_a_dm_question_is_answered_from_the_guilds_public_history(qa: QAEnv) -> None:
    reply = await dm(qa, ALICE_ID, "alice", "how do I fix ERR_CONNECTION_REFUSED?")
    assert "npm run dev" in reply and "#general" in reply


async def test_a_dm_may_use_a_private_channel_the_member_can_read(qa: QAEnv) -> None:
    reply = await dm(qa, BOB_ID, "bob", "how do I rotate the STAGING_TOKEN?")
    assert "vault kv put" in reply and "#staff" in reply


async def test_a_dm_never_uses_a_private_channel_the_member_cannot_read(qa: QAEnv) -> None:
    reply = await dm(qa, ALICE_ID, "alice", "how do I rotate the STAGING_TOKEN?")
    assert "vault" not in reply and "#staff" not in reply
    assert "vault kv put" not in qa.prompts()


async def test_a_member_of_no_known_guild_gets_the_docs_only_abstention(qa: QAEnv) -> None:
    reply = await dm(qa, STRANGER_ID, "stranger", "how do I fix ERR_CONNECTION_REFUSED?")
    assert reply.startswith("I couldn't find this in our history") and "npm run dev" not in reply
    assert qa.llm.prompts == []  # no community unit reached the model


async def test_a_dm_message_opens_the_role_gated_channels_of_the_members_cached_roles(qa: QAEnv) -> None:
    """As /ask does: before, a DM message carried no roles, so Carol (Mod) got "couldn't find"
    for what #staff answers, and Dora (no role) must still not get it."""
    for user_id, name, roles in ((CAROL_ID, "carol", [MOD_ROLE_ID]), (DORA_ID, "dora", [])):
        member = member_payload(user_id, name, roles=roles)
        feed(qa.client, "GUILD_MEMBER_ADD", {"guild_id": GUILD_ID, **member})
    await drain(qa.app)
    carol = await dm(qa, CAROL_ID, "carol", "how do I rotate the STAGING_TOKEN?")
    assert "vault kv put" in carol and "#staff" in carol
    dora = await dm(qa, DORA_ID, "dora", "how do I rotate the STAGING_TOKEN?")
    assert "vault" not in dora and "#staff" not in dora


async def test_ask_in_a_dm_opens_the_role_gated_channels_of_the_members_cached_roles(qa: QAEnv) -> None:
    feed(
        qa.client, "GUILD_MEMBER_ADD", {"guild_id": GUILD_ID, **member_payload(CAROL_ID, "carol", roles=[MOD_ROLE_ID])}
    )
    await drain(qa.app)
    question = [{"name": "question", "type": 3, "value": "how do I rotate the STAGING_TOKEN?"}]
    payload = dm_interaction_payload("ask", question, user_id=CAROL_ID, user_name="carol", channel_id=next_id())
    feed(qa.client, "INTERACTION_CREATE", payload)
    await drain(qa.app)
    [answer] = qa.http.sent("POST", FOLLOWUP)
    assert "vault kv put" in answer.json["content"]
