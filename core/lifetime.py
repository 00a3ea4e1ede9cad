"""Child processes that end with their parent, however it ends (SIGTERM, SIGINT, SIGKILL)."""

from __future__ import annotations

import os
import threading
import time


def exit_with_parent(parent: int, poll_s: float = 0.5) -> None:
    """Watch the parent from a daemon thread and exit as soon as it is gone (this process re-parented).

    For pool workers (a ProcessPoolExecutor's `initializer`): Linux's parent-death signal
    (PR_SET_PDEATHSIG) fires when the *thread* that started the child ends, and an executor starts its
    workers from whichever thread submits first, so a pool kept for the next job would lose its workers
    with that thread. Polling the parent's id costs a wake-up every `poll_s`. `parent` is the pid the
    parent passed (not ours to read here: it may have died while this interpreter started)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_s)
        os._exit(1)  # nothing of a worker's is worth finishing once the one who asked is gone

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
