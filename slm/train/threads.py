"""CPU threads for training: set them, and pick the fastest count while a run trains."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence


def configure_threads(num_threads: int | None) -> int:
    import torch

    n = num_threads or os.cpu_count() or 1
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n


class ThreadTuner:
    """Picks the fastest CPU thread count while training, and re-checks periodically.

    On a shared machine all-cores is often the worst choice: when another process holds a core, torch's
    threads wait for each other at every op and a tiny model runs several times slower than with one
    thread. So every `period_s` the next few steps are timed (seconds per token) with each candidate and
    the best one is kept. Only timing changes; the steps themselves are ordinary training steps.
    """

    def __init__(self, candidates: Sequence[int], period_s: float = 45.0, trial_steps: int = 3) -> None:
        import torch

        self.candidates = list(dict.fromkeys(candidates))
        self.best = self.candidates[0]
        self.period_s = period_s
        self.trial_steps = trial_steps
        self.current = torch.get_num_threads()
        self._queue: list[tuple[int, bool]] = []  # (threads, measured?) for the upcoming trial steps
        self._measured = False
        self._samples: dict[int, list[float]] = {}
        self._next_trial = time.perf_counter()

    def before_step(self) -> None:
        import torch

        if not self._queue and not self._samples and time.perf_counter() >= self._next_trial:
            # The first step after a switch warms the new thread pool: run it, don't time it.
            self._queue = [(c, k > 0) for c in self.candidates for k in range(self.trial_steps)]
            self._samples = {c: [] for c in self.candidates}
        threads, self._measured = self._queue.pop(0) if self._queue else (self.best, False)
        if threads != self.current:
            torch.set_num_threads(threads)
            self.current = threads

    def after_step(self, seconds: float, tokens: int) -> None:
        if self._measured and tokens:
            self._samples[self.current].append(seconds / tokens)
        if self._samples and not self._queue:
            timed = {c: sorted(s)[len(s) // 2] for c, s in self._samples.items() if s}
            if timed:
                self.best = min(timed, key=timed.__getitem__)
            self._samples = {}
            self._next_trial = time.perf_counter() + self.period_s
