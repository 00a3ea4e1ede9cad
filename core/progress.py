"""Progress bars for long management commands (tqdm, on stderr, shown only on a terminal)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from tqdm import tqdm


def progress_bar(*, total: float | None, desc: str, unit: str = "it") -> tqdm:
    """A bar on stderr; tqdm turns itself off when stderr is not a terminal (logs, CI, tests)."""
    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, disable=None, dynamic_ncols=True)


@contextmanager
def elapsed_bar(desc: str) -> Iterator[tqdm]:
    """For work that cannot say how far it is: the elapsed time, refreshed every half second."""
    bar = tqdm(total=None, desc=desc, bar_format="{desc}: {elapsed}", file=sys.stderr, disable=None)
    done = threading.Event()

    def tick() -> None:
        while not done.wait(0.5):
            bar.refresh()

    ticker = threading.Thread(target=tick, name="elapsed-bar", daemon=True)
    if not bar.disable:
        ticker.start()
    try:
        yield bar
    finally:
        done.set()
        if ticker.is_alive():
            ticker.join()
        bar.close()
