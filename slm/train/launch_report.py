"""What a torchrun launch reports back to its launcher (slm.train.launch): rank 0's progress.jsonl
followed as it grows, and torchrun's failure report read into one sentence (which rank failed, how)."""

from __future__ import annotations

import json
import re
import signal
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

from slm.train.config import Progress


class Follower:
    """Reads rank 0's progress.jsonl as it grows (whole lines only)."""

    def __init__(
        self,
        path: Path,
        on_progress: Callable[[Progress], None] | None,
        on_event: Callable[[str, str], None] | None,
        max_restarts: int,
    ) -> None:
        self.path, self.on_progress, self.on_event = path, on_progress, on_event
        self.max_restarts = max_restarts
        self.offset = 0
        self.restarts = 0
        self.world = 0
        self.last_step = 0

    def read(self) -> None:
        try:
            with self.path.open("rb") as fh:
                fh.seek(self.offset)
                chunk = fh.read()
        except FileNotFoundError:
            return
        end = chunk.rfind(b"\n")
        if end < 0:
            return
        self.offset += end + 1
        for line in chunk[: end + 1].splitlines():
            try:
                item = json.loads(line)
            except ValueError:
                continue
            self._handle(item)

    def _handle(self, item: dict[str, Any]) -> None:
        kind = item.pop("kind", "")
        if kind == "progress":
            self.last_step = int(item.get("step", self.last_step))
        if kind == "progress" and self.on_progress is not None:
            names = {f.name for f in fields(Progress)}
            self.on_progress(Progress(**{k: v for k, v in item.items() if k in names}))
        elif kind == "start":
            self.restarts, self.world = int(item.get("restart", 0)), int(item.get("world", 0))
            if self.on_event is not None:
                if self.restarts:
                    self.on_event(
                        f"A rank died; torchrun restarted all {self.world} processes (restart "
                        f"{self.restarts} of {self.max_restarts}), resuming from the newest checkpoint.",
                        "warning",
                    )
                else:
                    self.on_event(f"{self.world} training processes started (torchrun, DDP).", "info")


def failure_reason(log: str, max_restarts: int, follower: Follower | None = None) -> str:
    """What torchrun's failure report says, in one sentence: which rank failed, and how. A rank killed by a
    signal is named before ranks that failed after it (their peer gone), whichever torchrun saw first."""
    report = log[log.rfind("ChildFailedError") :] if "ChildFailedError" in log else log
    failures: list[dict[str, str]] = []
    for line in report.splitlines():
        found = re.match(r"\s*(rank|exitcode|traceback)\s*:\s*(.*)", line)
        if not found:
            continue
        key, value = found.groups()
        if key == "rank":
            failures.append({"rank": value.split()[0]})
        elif failures and key == "exitcode":
            number = re.match(r"-?\d+", value.strip())
            failures[-1].setdefault(key, number.group(0) if number else "")
        elif failures:
            failures[-1].setdefault(key, value.strip())
    # torchrun sends SIGTERM to the survivors once one rank failed: those are not the cause.
    killed = [
        f
        for f in failures
        if f.get("exitcode", "").startswith("-") and f["exitcode"] != f"-{int(signal.SIGTERM)}"
    ]
    root_cause = report.split("Root Cause")[-1]
    first = next((f for f in failures if f"rank      : {f['rank']}" in root_cause), None)
    cause = (killed or ([first] if first else failures) or [{}])[0]
    used = follower.restarts if follower is not None else max_restarts
    restarts = f"after {used} of {max_restarts} restart(s) (--max-restarts {max_restarts})"
    if not cause:
        tail = " ".join(log.strip().splitlines()[-3:])[-400:]
        return f"Distributed training failed {restarts}: {tail or 'torchrun printed nothing'}."
    how = []
    code = int(cause["exitcode"]) if cause.get("exitcode", "").lstrip("-").isdigit() else None
    if code is not None:
        name = f", {signal.Signals(-code).name}" if code < 0 and -code in _SIGNALS else ""
        how.append(f"exit code {code}{name}")
    trace = cause.get("traceback", "")
    if trace and not trace.startswith(("To enable traceback", "Signal ", "Traceback (most recent")):
        how.append(trace[:300])
    if code is None or code > 0:  # an exception: its message is the reason
        errors = [
            ln.strip()
            for ln in log.splitlines()
            if re.match(r"\s*(\[rank\d+\]:\s*)?\w*(Error|Exception):", ln)
        ]
        if errors and "Error" not in trace:
            how.append(errors[-1][:300])
    return (
        f"Rank {cause['rank']} failed ({'; '.join(how) or 'no reason given'}) {restarts}; the run stops here."
    )


_SIGNALS = {s.value for s in signal.Signals}
