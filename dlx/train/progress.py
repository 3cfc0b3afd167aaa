"""Progress display for ``fit``: tqdm when installed, else one line on stderr."""

from __future__ import annotations

import sys
import time
from typing import Any


class Progress:
    """A per-epoch progress bar showing batches, loss and samples/s (no-op when silent)."""

    def __init__(self, total: int, desc: str, verbose: int) -> None:
        self.total, self.desc, self.verbose = total, desc, verbose
        self.count = self.samples = 0
        self.start = self._last = time.perf_counter()
        self._bar: Any = None
        self._width = 0
        if verbose <= 0:
            return
        try:
            from tqdm.auto import tqdm  # type: ignore[import-not-found,import-untyped,unused-ignore]
        except ImportError:
            return
        self._bar = tqdm(total=total, desc=desc, unit="batch", leave=True, file=sys.stderr)

    def update(self, samples: int, loss: float) -> None:
        """One more batch of ``samples`` samples with running mean loss ``loss``."""
        self.count += 1
        self.samples += samples
        if self.verbose <= 0:
            return
        now = time.perf_counter()
        rate = self.samples / max(now - self.start, 1e-9)
        if self._bar is not None:
            self._bar.set_postfix(loss=f"{loss:.4f}", samples_s=f"{rate:.0f}", refresh=False)
            self._bar.update(1)
        elif now - self._last >= 0.1 or self.count == self.total:
            self._last = now
            self._write(
                f"{self.desc} {self.count}/{self.total} loss {loss:.4f} {rate:.0f} samples/s"
            )

    def close(self, summary: str = "") -> None:
        """Finish the bar and print the epoch summary line."""
        if self.verbose <= 0:
            return
        if self._bar is not None:
            if summary:
                self._bar.set_postfix_str(summary, refresh=True)
            self._bar.close()
        else:
            secs = time.perf_counter() - self.start
            self._write(f"{self.desc} {self.count}/{self.total} {summary} ({secs:.1f}s)", end="\n")

    def _write(self, line: str, end: str = "") -> None:
        pad = max(self._width - len(line), 0)
        self._width = len(line)
        sys.stderr.write("\r" + line + " " * pad + end)
        sys.stderr.flush()
