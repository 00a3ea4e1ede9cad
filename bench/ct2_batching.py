"""Which way of batching concurrent requests decodes fastest in CTranslate2 (no platform around it):
N greedy requests that arrive together, on the converted model, with the decode process's threads.

- one `generate_batch` call for all N (what the decode process does with every request waiting when a
  call ends);
- N sequential `generate_batch` calls (no batching);
- N asynchronous `generate_batch` calls on a generator with 2 replicas (`inter_threads=2`: two calls
  run at once, one thread each);
- `generate_tokens` per request, the N token streams consumed in turn.

Prints the median wall time of each over --repeats runs, and requests/s.

    python bench/ct2_batching.py --model-dir DIR [--requests 16] [--repeats 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--requests", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    import ctranslate2

    from slm.decode.ct2 import convert
    from slm.synthetic import generate_corpus
    from slm.tokenizer import build_prefix_ids, load_tokenizer, tokenizer_dir

    model_dir = Path(args.model_dir)
    ct2_dir = convert(model_dir)
    vocabulary = json.loads((ct2_dir / "vocabulary.json").read_text())
    tokenizer = load_tokenizer(tokenizer_dir(model_dir))
    eos = int(tokenizer.eos_token_id)
    prompts = [e.prompt for e in generate_corpus(args.requests, seed=999)]
    starts = [[vocabulary[i] for i in ids] for ids in build_prefix_ids(tokenizer, prompts)]
    options = {"max_length": 256, "include_prompt_in_result": False, "end_token": [eos], "sampling_topk": 1}
    one = ctranslate2.Generator(str(ct2_dir), intra_threads=args.threads, inter_threads=1)
    two = ctranslate2.Generator(str(ct2_dir), intra_threads=args.threads, inter_threads=2)

    def batched() -> list[list[int]]:
        return [r.sequences_ids[0] for r in one.generate_batch(starts, **options)]

    def sequential() -> list[list[int]]:
        return [one.generate_batch([s], **options)[0].sequences_ids[0] for s in starts]

    def replicas() -> list[list[int]]:
        futures = [two.generate_batch([s], asynchronous=True, **options)[0] for s in starts]
        return [f.result().sequences_ids[0] for f in futures]

    def streams() -> list[list[int]]:
        its = [one.generate_tokens(s, max_length=256, end_token=[eos], sampling_topk=1) for s in starts]
        out: list[list[int]] = [[] for _ in starts]
        live = list(range(len(its)))
        while live:
            for i in list(live):
                step = next(its[i], None)
                if step is None:
                    live.remove(i)
                elif step.token_id != eos:
                    out[i].append(step.token_id)
        return out

    expected = sequential()
    for name, fn in (
        ("one batch call", batched),
        ("sequential calls", sequential),
        ("2 replicas, async calls", replicas),
        ("generate_tokens streams", streams),
    ):
        assert fn() == expected, name
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        med = statistics.median(times)
        print(
            f"{name:26s} {med * 1000:7.1f} ms for {args.requests} requests ({args.requests / med:6.0f} req/s), "
            f"range {min(times) * 1000:.1f}-{max(times) * 1000:.1f} ms"
        )


if __name__ == "__main__":
    main()
