"""Generation throughput as deployed: gunicorn (gthread workers) and one `rundramatiq` worker, each in its
own processes, on the DATABASE_URL and REDIS_URL given, against bare CTranslate2 `generate_batch` calls on
the same converted model in this process (greedy, batch 1, the same prompts, token budget and threads),
in one run. generation_bench.py runs the web and worker sides as threads of one process (the embedded
worker of `make run`); this is the split that production runs.

First N calls one at a time (`?wait=60`, through real sockets, a connection each), each after the bare
call on the same prompt (`deployed_latency_ratio`, printed); then N concurrent API requests against N
sequential bare calls; the last line is `deployed_throughput_ratio=<platform requests/s ÷ bare requests/s>`. Each side is
run `--rounds` times, alternated, and the median round is reported. Without REDIS_URL the bench says why
and stops.

`--broker rabbitmq` carries the messages on RabbitMQ (RABBITMQ_URL; Redis stays the cache and the wake-ups,
as deployed), `--broker redis` (the default) on Redis, whatever RABBITMQ_URL says. Compare the two with
two runs on the same machine, one after the other.

    DATABASE_URL=postgres://… REDIS_URL=redis://… [RABBITMQ_URL=amqp://…] python bench/deployed_bench.py \\
        --model-dir DIR [--broker redis|rabbitmq] [--concurrent 16] [--web-workers 2] [--web-threads 8]
        [--worker-threads 16] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from _django import ROOT, setup

SEED = 1234


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the web server exited ({proc.returncode})")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError("the web server did not start")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model-dir", required=True, help="A trained model folder.")
    parser.add_argument("--concurrent", type=int, default=16)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--web-threads", type=int, default=8)
    parser.add_argument("--worker-threads", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--broker", choices=("redis", "rabbitmq"), default="redis")
    args = parser.parse_args()
    if not os.environ.get("REDIS_URL"):
        print("deployed bench: set REDIS_URL (and a PostgreSQL DATABASE_URL): the processes share a broker")
        return
    if args.broker == "rabbitmq" and not os.environ.get("RABBITMQ_URL"):
        print("deployed bench: --broker rabbitmq needs RABBITMQ_URL (amqp://…)")
        return
    if args.broker == "redis":
        os.environ.pop("RABBITMQ_URL", None)  # config.settings prefers RabbitMQ when it is set
    work = setup("deployed-bench")

    from django.conf import settings
    from django.contrib.auth.models import Group
    from django.db import connection
    from rest_framework.authtoken.models import Token

    from core.models import User
    from core.roles import API_CONSUMERS
    from slm.decode.ct2 import convert
    from slm.synthetic import generate_corpus
    from training.artifacts import artifacts_upload
    from training.models import ModelAlias, SLMModel

    model_dir = Path(args.model_dir)
    ct2_dir = convert(model_dir)
    prefix = artifacts_upload(local_dir=model_dir, prefix="models/bench-slm/1")
    model = SLMModel.objects.create(model_name="bench-slm", version=1, storage_path=prefix)
    ModelAlias.objects.update_or_create(name="production", defaults={"model_version": model})
    user = User.objects.create_user("bench", "bench@example.com", "bench-password-123")
    user.groups.add(Group.objects.get(name=API_CONSUMERS))
    token = Token.objects.create(user=user).key
    connection.close()

    import ctranslate2

    from slm.model import load_model, max_positions
    from slm.tokenizer import build_prefix_ids, load_tokenizer, tokenizer_dir

    threads = settings.GENERATION_DECODE_THREADS
    engine = ctranslate2.Generator(str(ct2_dir), device="cpu", compute_type="float32", intra_threads=threads)
    vocabulary = json.loads((ct2_dir / "vocabulary.json").read_text())
    tokenizer = load_tokenizer(tokenizer_dir(model_dir))
    positions = max_positions(load_model(model_dir, "cpu"))
    eos = int(tokenizer.eos_token_id)
    max_new = settings.GENERATION_MAX_NEW_TOKENS
    prompts = [e.prompt for e in generate_corpus(args.concurrent + 2, seed=999)]

    def bare(prompt: str) -> None:
        ids = build_prefix_ids(tokenizer, [prompt])[0]
        engine.generate_batch(
            [[vocabulary[i] for i in ids]],
            max_length=min(max_new, positions - len(ids)),
            include_prompt_in_result=False,
            end_token=[eos],
            sampling_topk=1,
        )

    port = free_port()
    env = {
        **os.environ,
        "API_THROTTLE_USER": "100000/minute",  # the bench's own calls, not a client to slow down
        "API_THROTTLE_GENERATIONS": "100000/minute",
    }
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(args.web_workers),
                "--threads",
                str(args.web_threads),
                "--worker-class",
                "gthread",
                "--timeout",
                "120",
            ],
            cwd=ROOT,
            env=env,
            start_new_session=True,
        ),
        subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "rundramatiq",
                "--processes",
                "1",
                "--threads",
                str(args.worker_threads),
            ],
            cwd=ROOT,
            env=env,
            start_new_session=True,
        ),
    ]
    url = f"http://127.0.0.1:{port}/api/v1/generations/?wait=60"

    def api(prompt: str, answers: list[int], ids: list[str] | None = None) -> None:
        body = json.dumps({"text": prompt, "seed": SEED, "temperature": 0}).encode()
        request = urllib.request.Request(
            url, data=body, headers={"Authorization": f"Token {token}", "Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=90) as answer:
            data = json.loads(answer.read())
            answers.append(answer.status)
            if ids is not None:
                ids.append(data["id"])

    try:
        wait_port(port, procs[0])
        for p in prompts[-2:] * 2:  # warm-up: the worker loads the model and starts its decode process
            warm: list[int] = []
            api(p, warm)
        # Latency, one call at a time, alternated with the bare call on the same prompt.
        lat_bare, lat_api, lat_ids = [], [], []
        for p in prompts[: args.concurrent]:
            t0 = time.perf_counter()
            bare(p)
            lat_bare.append(time.perf_counter() - t0)
            one: list[int] = []
            t0 = time.perf_counter()
            api(p, one, lat_ids)
            lat_api.append(time.perf_counter() - t0)
            time.sleep(0.05)  # its PNG renders before the next call
        batch = prompts[: args.concurrent]
        bare_s, api_s = [], []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            for p in batch:
                bare(p)
            bare_s.append(time.perf_counter() - t0)
            answers: list[int] = []
            clients = [threading.Thread(target=api, args=(p, answers)) for p in batch]
            t0 = time.perf_counter()
            for c in clients:
                c.start()
            for c in clients:
                c.join()
            api_s.append(time.perf_counter() - t0)
            assert answers == [200] * len(batch), answers
            time.sleep(0.5)  # the PNGs of this round render before the next one
        bare_med, api_med = statistics.median(bare_s), statistics.median(api_s)
        n = len(batch)
        print(
            f"database {os.environ.get('DATABASE_URL', '').split(':')[0] or 'sqlite'}; broker {args.broker}; gunicorn "
            f"{args.web_workers} worker(s) x {args.web_threads} thread(s), rundramatiq {args.worker_threads} "
            f"thread(s), decode {threads} thread(s); work folder {work}"
        )
        lb, la = statistics.median(lat_bare) * 1000, statistics.median(lat_api) * 1000
        from generation.models import DesignOutput

        rows = {str(o.pk): o for o in DesignOutput.objects.filter(pk__in=lat_ids)}
        hop, inside, rest = [], [], []
        for pk, wall in zip(lat_ids, lat_api, strict=True):
            o = rows[pk]
            hop.append((o.started_at - o.created_at).total_seconds() * 1000)
            inside.append((o.finished_at - o.started_at).total_seconds() * 1000)
            rest.append(wall * 1000 - (o.finished_at - o.created_at).total_seconds() * 1000)
        print(
            f"where the API call's time goes (median ms): queued until a worker claimed it "
            f"{statistics.median(hop):.1f}, claimed until completed {statistics.median(inside):.1f}, the rest "
            f"(HTTP, the request rows, the wake-up, the answer) {statistics.median(rest):.1f}"
        )
        print(
            f"latency: bare median {lb:.1f} ms, API through gunicorn median {la:.1f} ms over "
            f"{len(lat_api)} prompts (deployed_latency_ratio={la / lb:.3f})"
        )
        print(
            f"throughput (median of {args.rounds} rounds): {n} sequential bare CTranslate2 calls "
            f"{bare_med:.3f} s ({n / bare_med:.1f} req/s; rounds {', '.join(f'{x:.3f}' for x in bare_s)}); "
            f"{n} concurrent API requests {api_med:.3f} s ({n / api_med:.1f} req/s; rounds "
            f"{', '.join(f'{x:.3f}' for x in api_s)})"
        )
    finally:
        for proc in procs:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(15)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(proc.pid, signal.SIGKILL)
    print(f"deployed_throughput_ratio={(n / api_med) / (n / bare_med):.3f}")


if __name__ == "__main__":
    main()
