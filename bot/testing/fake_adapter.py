"""A fake platform: feed events in, read actions out."""

from __future__ import annotations

from bot.bus import EventBus
from bot.events import Action, CommandReply, Event, Platform, SendDirectMessage, SendEphemeral, SendMessage


class FakeAdapter:
    """Records every outbound action of its platform (all platforms when ``platform`` is None)."""

    def __init__(self, platform: Platform | None = None) -> None:
        self.platform = platform or Platform.CONSOLE
        self._only = platform
        self.actions: list[Action] = []
        self._bus: EventBus | None = None
        self.receiving = True

    def attach(self, bus: EventBus) -> None:
        """Subscribe to actions."""
        self._bus = bus
        bus.subscribe(Action, self._record, name=f"fake-adapter.{self.platform.value}")

    async def _record(self, action: Action) -> None:
        if self._only is None or action.platform is self._only:
            self.actions.append(action)

    async def start(self) -> None:
        """Nothing to connect."""

    async def stop_receiving(self) -> None:
        """First step of shutdown (as a real adapter): :meth:`inject` publishes nothing more, while
        actions are still recorded until :meth:`stop`."""
        self.receiving = False

    async def stop(self) -> None:
        """Nothing to disconnect."""

    async def inject(self, event: Event) -> bool:
        """Publish an inbound event as if the platform sent it (False, unpublished, once the
        adapter stopped receiving)."""
        assert self._bus is not None, "attach() first"
        if not self.receiving:
            return False
        return await self._bus.publish(event)

    def texts(self) -> list[str]:
        """Texts of all recorded messages, DMs, ephemerals and command replies."""
        out = []
        for a in self.actions:
            if isinstance(a, (SendMessage, SendDirectMessage, SendEphemeral, CommandReply)):
                out.append(a.text)
        return out

    def of_type(self, kind: type[Action]) -> list[Action]:
        """Recorded actions of one type."""
        return [a for a in self.actions if isinstance(a, kind)]
