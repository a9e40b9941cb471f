"""Channel policy: public by default, private only when allowed, DMs never, denied never."""

from __future__ import annotations

from bot.config import Settings
from bot.privacy.policy import may_index
from bot.store import open_store


async def test_channel_policy_defaults_and_overrides() -> None:
    store = await open_store("sqlite://:memory:")
    settings = Settings(privacy={"index_private_channels": ["mods"]})
    args = ("slack", "T")
    assert await may_index(store, settings, *args, "C1", "general", "public")
    assert await may_index(store, settings, *args, "C2", "mods", "private")
    assert not await may_index(store, settings, *args, "C3", "secret", "private")
    assert not await may_index(store, settings, *args, "D1", "", "dm")
    await store.set_workspace_setting("slack", "T", "deny_channels", ["general"])
    await store.set_workspace_setting("slack", "T", "index_private_channels", ["C3"])
    assert not await may_index(store, settings, *args, "C1", "#general", "public")
    assert await may_index(store, settings, *args, "C3", "secret", "private")
    await store.close()


async def test_channels_written_with_a_hash_or_as_a_mention_in_the_config_file_match() -> None:
    # guildhall.toml is written by hand: `deny_channels = ["#secret"]` must deny #secret.
    store = await open_store("sqlite://:memory:")
    settings = Settings(privacy={"deny_channels": ["#secret", "<#C9|payroll>"], "index_private_channels": ["#mods"]})
    args = ("slack", "T")
    assert not await may_index(store, settings, *args, "C1", "secret", "public")
    assert not await may_index(store, settings, *args, "C9", "payroll", "public")
    assert await may_index(store, settings, *args, "C2", "mods", "private")
    assert await may_index(store, settings, *args, "C3", "general", "public")
    await store.close()
