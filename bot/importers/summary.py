"""What an import did: counts, errors, speed."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

SHOWN_WARNINGS = 5  # in the human summary; the JSON form carries more


@dataclass
class ImportSummary:
    """Counts of an import run; ``errors`` name the file and the reason."""

    source: str
    files: int = 0
    channels: int = 0
    users: int = 0
    messages: int = 0
    threads: int = 0
    reactions: int = 0
    skipped: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # What the admin should do about the import as a whole (always shown, unlike per-item warnings).
    hints: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        """Messages per second."""
        return self.messages / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        data = asdict(self)
        data["messages_per_s"] = round(self.rate, 1)
        data["warnings"] = self.warnings[:50]
        return data

    def text(self) -> str:
        """One human line plus the errors."""
        line = (
            f"imported {self.messages} messages ({self.threads} threads, {self.reactions} reactions) from "
            f"{self.files} files, {self.channels} channels, {self.users} users in {self.seconds:.1f} s "
            f"({self.rate:,.0f} msg/s); skipped {self.skipped}"
        )
        if self.errors:
            line += f"; {len(self.errors)} file(s) with errors:\n" + "\n".join(f"  {e}" for e in self.errors)
        if self.warnings:
            shown = self.warnings[:SHOWN_WARNINGS]
            more = f" (the first {len(shown)}; --json lists up to 50)" if len(self.warnings) > len(shown) else ""
            line += f"\n{len(self.warnings)} warning(s){more}:\n" + "\n".join(f"  {w}" for w in shown)
        line += "".join(f"\nnote: {h}" for h in self.hints)
        return line

    def warn(self, message: str) -> None:
        """Record a skipped item (bounded list)."""
        self.skipped += 1
        self.note(message)

    def note(self, message: str) -> None:
        """Record a warning about an item that was imported anyway (not counted as skipped)."""
        if len(self.warnings) < 1000:
            self.warnings.append(message)
