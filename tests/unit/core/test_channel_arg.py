"""Channel arguments: a platform's pick is taken as is, a typed name must be known."""

from __future__ import annotations

from bot.channel_arg import ChannelArgument, channel_list, channel_word, picked_channel, resolve_channel


class Channels:
    """A store that knows #python (id C1) only."""

    async def find_channel_id(self, platform: str, workspace_id: str, id_or_name: str) -> str | None:
        return "C1" if id_or_name.lstrip("#") in {"C1", "python"} else None


def test_channel_words() -> None:
    assert channel_word("<#C9|staff>") == ChannelArgument("C9", picked=True)
    assert channel_word("<#123456>") == ChannelArgument("123456", picked=True)
    assert channel_word("#python") == ChannelArgument("python", picked=False)
    assert channel_word("python") == ChannelArgument("python", picked=False)
    assert channel_word("two words") is None
    assert channel_word("#") is None
    assert channel_word("; DROP TABLE") is None
    assert picked_channel("#help") == ChannelArgument("help", picked=True)
    assert picked_channel("  ") is None


async def test_resolve_trusts_picks_and_checks_typed_names() -> None:
    store = Channels()
    assert await resolve_channel(store, "slack", "T1", ChannelArgument("python", picked=False)) == "C1"
    assert await resolve_channel(store, "slack", "T1", ChannelArgument("nosuch", picked=False)) is None
    # A picked channel Guildhall has not seen yet is still real.
    assert await resolve_channel(store, "slack", "T1", ChannelArgument("C9", picked=True)) == "C9"


def test_channel_lists_keep_order_and_drop_repeats() -> None:
    assert channel_list("#help, <#C1|python> ops <#C1> help") == ["help", "C1", "ops"]
    assert channel_list(" , ") == []
