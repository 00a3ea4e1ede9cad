"""Training that streams (issue 25): a run reads real Parquet shards a record batch at a time into an
on-disk token cache; the same batches and losses as the in-memory path; a damaged shard fails the run
naming it; a resumed run goes on from the same stream position; each rank of a distributed run reads
its own shards."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slm.shards import Shard, ShardChecksumError, write_shard
from slm.train.checkpoints import latest_checkpoint, load_trainer_state
from slm.train.config import Progress
from slm.train.launch import launch
from slm.train.loop import train
from slm.train.stream import ShardSet
from slm.train.token_cache import TokenCache
from tests.shared_fixtures import tiny_config

LOSS_TOLERANCE = 1e-4  # two ranks sum floats in another order (as tests/ml/test_ml_distributed.py)


def _config(**overrides):
    return tiny_config(cpu_bf16=False, validations=2, **overrides)


def _rows(examples):
    return ({"prompt": e.prompt, "svg": e.svg, "context": None} for e in examples)


def _shards(folder: Path, train_set, val_set, per_shard: int = 100) -> ShardSet:
    folder.mkdir(parents=True, exist_ok=True)
    train = [
        write_shard(folder / f"train-{k:05d}.parquet", "train", _rows(train_set[i : i + per_shard]))
        for k, i in enumerate(range(0, len(train_set), per_shard))
    ]
    val = [write_shard(folder / "validation-00000.parquet", "validation", _rows(val_set))]
    return ShardSet(folder, tuple(train), tuple(val))


def _losses(progress: list[Progress]) -> dict[int, float]:
    return {p.step: p.loss for p in progress}


def test_a_streamed_run_trains_as_the_in_memory_one(corpus, tmp_path: Path) -> None:
    train_set, val_set = corpus[:300], corpus[300:340]
    data = _shards(tmp_path / "shards", train_set, val_set)
    assert [s.rows for s in data.train] == [100, 100, 100]
    listed: list[Progress] = []
    streamed: list[Progress] = []
    a = train(_config(), train_set, val_set, tmp_path / "list", on_progress=listed.append)
    b = train(_config(), data, [], tmp_path / "stream", on_progress=streamed.append)
    assert _losses(listed) == _losses(streamed)  # same batches, same order, same numbers
    assert a.val_loss == b.val_loss and a.final_dir and b.final_dir
    # What it trained on lives on disk: one token part per shard.
    tokens = sorted((tmp_path / "stream" / "stream").glob("*/tokens-*/train-*.tokens"))
    assert len(tokens) == 3
    cache = TokenCache([t.with_suffix("") for t in tokens])
    assert len(cache) == 300 and cache.longest() == max(cache.lengths())


def test_a_shard_that_does_not_match_its_checksum_fails_the_run_naming_it(corpus, tmp_path: Path) -> None:
    data = _shards(tmp_path / "shards", corpus[:300], corpus[300:340])
    damaged = tmp_path / "shards" / "train-00001.parquet"
    raw = bytearray(damaged.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    damaged.write_bytes(bytes(raw))
    with pytest.raises(ShardChecksumError, match=r"Shard train-00001\.parquet does not match its manifest"):
        train(_config(), data, [], tmp_path / "run")


def test_a_missing_shard_fails_the_run_naming_it(corpus, tmp_path: Path) -> None:
    data = _shards(tmp_path / "shards", corpus[:300], corpus[300:340])
    (tmp_path / "shards" / "train-00002.parquet").unlink()
    with pytest.raises(ShardChecksumError, match=r"Shard train-00002\.parquet is missing"):
        train(_config(), data, [], tmp_path / "run")


def test_a_resumed_run_goes_on_from_the_same_stream_position(corpus, tmp_path: Path) -> None:
    data = _shards(tmp_path / "shards", corpus[:300], corpus[300:340])
    whole: list[Progress] = []
    train(_config(max_steps=30), data, [], tmp_path / "whole", on_progress=whole.append)
    # The same run stopped at step 12 (as a kill after its checkpoint leaves it), then started again.
    first: list[Progress] = []
    stopped = train(
        _config(max_steps=30),
        data,
        [],
        tmp_path / "cut",
        on_progress=first.append,
        should_stop=lambda: bool(first) and first[-1].step >= 12,
    )
    assert stopped.status == "cancelled" and stopped.steps == 12
    state = load_trainer_state(latest_checkpoint(tmp_path / "cut"))
    assert state["batcher"]["position"] + state["batcher"]["epoch"] > 0 and state["data_key"]
    assert state["data_key"] == data.fingerprint()
    rest: list[Progress] = []
    resumed = train(_config(max_steps=30), data, [], tmp_path / "cut", on_progress=rest.append)
    assert resumed.resumed_from_step == 12 and resumed.steps == 30
    after = {s: v for s, v in _losses(whole).items() if s > 12}
    assert _losses(rest).keys() >= after.keys()
    assert max(abs(_losses(rest)[s] - v) for s, v in after.items()) < LOSS_TOLERANCE


def test_a_checkpoint_resumes_only_on_its_own_data(corpus, tmp_path: Path) -> None:
    data = _shards(tmp_path / "a", corpus[:300], corpus[300:340])
    other = _shards(tmp_path / "b", corpus[40:340], corpus[:40])
    seen: list[Progress] = []
    train(_config(), data, [], tmp_path / "run", should_stop=lambda: len(seen) >= 10, on_progress=seen.append)
    with pytest.raises(ValueError, match="was trained on other data"):
        train(_config(), other, [], tmp_path / "run")


def test_each_rank_reads_its_own_shards(corpus, tmp_path: Path) -> None:
    train_set, val_set = corpus[:300], corpus[300:340]
    data = _shards(tmp_path / "shards", train_set, val_set, per_shard=75)
    one: list[Progress] = []
    two: list[Progress] = []
    single = train(_config(), data, [], tmp_path / "one", on_progress=one.append)
    double = launch(_config(), data, [], tmp_path / "two", processes=2, on_progress=two.append)
    assert double.status == single.status == "completed" and double.steps == single.steps == 20
    a, b = _losses(one), _losses(two)
    assert sorted(a) == sorted(b) and max(abs(a[s] - b[s]) for s in a) < LOSS_TOLERANCE
    stats = sorted((tmp_path / "two" / "stream").glob("*/train-*.stats.json"))
    readers = {p.name.split(".")[0]: json.loads(p.read_text())["rank"] for p in stats}
    assert readers == {"train-00000": 0, "train-00001": 1, "train-00002": 0, "train-00003": 1}
    assert not (tmp_path / "two" / "launch-node0" / "train.jsonl").exists()  # no copy of the data


def test_shard_manifest_entries_round_trip(tmp_path: Path) -> None:
    shard = write_shard(tmp_path / "train-00000.parquet", "train", iter([]))
    assert Shard.from_dict(shard.as_dict()) == shard and shard.rows == 0
