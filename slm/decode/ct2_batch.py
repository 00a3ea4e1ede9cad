"""Requests decoded through CTranslate2 (slm.decode.ct2) with the continuous batch's add/step interface."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

from slm.decode.types import DecodeRequest, Sample
from slm.tokenizer import build_prefix_ids, decode


class Ct2Batch:
    """Requests decoded through CTranslate2, with DecodeBatch's add/step interface: `add` takes them,
    `step` decodes everything added since the last step in one call and returns it all (greedy rows
    share the call; each sampled request decodes on a replica seeded with its own seed). Requests that
    arrive during a call join the next one."""

    def __init__(self, gen: Any) -> None:  # the Generator (slm.decode.sampling) it decodes with
        self.gen = gen
        self.rows: list[Hashable] = []  # one entry per candidate, for the batch loop's row budget
        self._pending: list[tuple[Hashable, DecodeRequest, list[int], int]] = []

    def __len__(self) -> int:
        return len(self._pending)

    def __bool__(self) -> bool:
        return bool(self._pending)

    def add(self, items: Sequence[tuple[Hashable, DecodeRequest]]) -> dict[Hashable, list[Sample]]:
        g = self.gen
        done: dict[Hashable, list[Sample]] = {}
        prefixes = build_prefix_ids(g.tokenizer, [r.prompt for _, r in items], [r.context for _, r in items])
        for (key, req), prefix in zip(items, prefixes, strict=True):
            budget = max(0, min(req.max_new_tokens, g.max_positions - len(prefix)))
            if req.n < 1 or budget == 0:
                done[key] = [Sample(text="", tokens=0, finished=False) for _ in range(max(0, req.n))]
                continue
            self._pending.append((key, req, prefix, budget))
            self.rows += [key] * req.n
        return done

    def step(self) -> dict[Hashable, list[Sample]]:
        from slm.decode.ct2 import Ct2Job

        g = self.gen
        pending, self._pending, self.rows = self._pending, [], []
        if not pending:
            return {}
        assert g.ct2 is not None
        jobs = [
            Ct2Job(prefix, budget, r.n, float(r.temperature), int(r.seed), r.top_k)
            for _, r, prefix, budget in pending
        ]
        results = g.ct2.decode(jobs)
        return {
            key: [g.sample(decode(g.tokenizer, ids), len(ids), finished) for ids, finished in candidates]
            for (key, *_), candidates in zip(pending, results, strict=True)
        }
