"""Page and byte budgets of one source in a ``meditron corpus download guidelines`` run (each source has its own)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Budget:
    max_pages: int | None = None
    max_bytes: int | None = None
    num_pages: int = 0
    num_bytes: int = 0

    def spend(self, num_bytes: int) -> None:
        self.num_pages += 1
        self.num_bytes += num_bytes

    def exhausted(self) -> str | None:
        """Why no further request may be made, or None."""
        if self.max_pages is not None and self.num_pages >= self.max_pages:
            return f"page budget reached ({self.num_pages} of --max-pages {self.max_pages})"
        if self.max_bytes is not None and self.num_bytes >= self.max_bytes:
            return f"byte budget reached ({self.num_bytes:,} of --max-bytes {self.max_bytes:,} bytes)"
        return None
