"""Progress on long work, for a person watching a terminal: n/N, rate and time left, on one line.

Only drawn when the stream is a terminal (a log file or a pipe gets the final one-line summary and
nothing else); redrawn at most a few times a second so 10,000 tiny files do not flood the screen.
"""

from __future__ import annotations

import time
from typing import IO, Any

_WORDS = {
    "zh": {"rate": "个/秒", "left": "剩余", "done": "完成"},
    "en": {"rate": "/s", "left": "left", "done": "done"},
}


def _clock(seconds: float) -> str:
    s = int(seconds + 0.5)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


class Progress:
    """``with Progress(total, "读取", stream) as p: p.advance()`` — a line like
    ``读取 120/2000（6%）35 个/秒 剩余 0:53``, cleared at the end."""

    def __init__(self, total: int, label: str, stream: IO[str], lang: str = "zh", min_interval: float = 0.2):
        self.total = max(total, 0)
        self.label = label
        self.stream = stream
        self.words = _WORDS.get(lang, _WORDS["zh"])
        self.enabled = bool(getattr(stream, "isatty", lambda: False)()) and total > 1
        self.done = 0
        self.started = time.monotonic()
        self._drawn = 0.0
        self._interval = min_interval
        self._width = 0

    def __enter__(self) -> Progress:
        self._draw(force=True)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.enabled:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()

    def advance(self, n: Any = 1) -> None:
        """One step (or ``n`` when an int): fits both ``progress(result)`` and ``progress(count)``."""
        self.done += n if isinstance(n, int) and not isinstance(n, bool) else 1
        self._draw(force=self.done >= self.total)

    def line(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        pct = 100 * self.done // self.total if self.total else 100
        text = f"{self.label} {self.done}/{self.total}（{pct}%）" if self.words is _WORDS["zh"] else \
            f"{self.label} {self.done}/{self.total} ({pct}%)"
        if self.done:
            rate = self.done / elapsed
            text += f" {rate:.0f} {self.words['rate']}" if rate >= 10 else f" {rate:.1f} {self.words['rate']}"
            if self.done < self.total:
                text += f" {self.words['left']} {_clock((self.total - self.done) / rate)}"
        return text

    def _draw(self, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._drawn < self._interval:
            return
        self._drawn = now
        text = self.line()
        self._width = max(self._width, len(text) * 2)
        self.stream.write("\r" + text + " " * max(0, self._width - len(text) * 2))
        self.stream.flush()
