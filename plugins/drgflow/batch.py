"""What a load (and its validation) did to one file: the result the loader, validation and the CLI share."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class LoadResult:
    """One file's load: its batch, what was read, accepted, quarantined and warned, and notes for the operator."""
    path: str
    kind: str
    batch_id: int | None
    rows_read: int = 0
    rows_accepted: int = 0
    rows_quarantined: int = 0
    rows_warned: int = 0
    skipped: bool = False          # same file already loaded
    needs_validation: bool = False  # already loaded, but its requested validation never completed
    encoding: str = "UTF8"
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
