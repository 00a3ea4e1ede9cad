from __future__ import annotations

import pytest

from slm.decode.ct2 import convert
from slm.decode.sampling import Generator
from slm.decode.types import DecodeRequest, Sample
from slm.quality.grammar import evaluate
from slm.synthetic import SyntheticExample, generate_corpus
from tests.ml.conftest import Trained

PROMPTS = [e.prompt for e in generate_corpus(6, seed=1234)]


@pytest.fixture(scope="module")
def generator(trained_model: Trained) -> Generator:
    """What generation uses: CTranslate2, float32."""
    assert trained_model.result.final_dir is not None
    convert(trained_model.result.final_dir)  # as registration does
    gen = Generator(trained_model.result.final_dir, num_threads=1)
    assert gen.engine == "ctranslate2", gen.fallback_reason
    return gen


@pytest.fixture(scope="module")
def hf_generator(trained_model: Trained) -> Generator:
    """The transformers fallback (and training's path), on the same weights."""
    assert trained_model.result.final_dir is not None
    return Generator(trained_model.result.final_dir, num_threads=1, engine="transformers")


@pytest.fixture(params=["ctranslate2", "transformers"])
def either(request: pytest.FixtureRequest, generator: Generator, hf_generator: Generator) -> Generator:
    return generator if request.param == "ctranslate2" else hf_generator


@pytest.mark.slow
def test_batched_greedy_equals_per_prompt(either: Generator) -> None:
    generator = either
    batched = generator.generate(PROMPTS, n=2, seed=0, temperature=0.0, max_new_tokens=160)
    assert [len(c) for c in batched] == [2] * len(PROMPTS)
    for prompt, candidates in zip(PROMPTS, batched, strict=True):
        [[single]] = generator.generate([prompt], n=1, seed=5, temperature=0.0, max_new_tokens=160)
        assert candidates[0].text == candidates[1].text == single.text
        assert candidates[0].tokens == single.tokens


@pytest.mark.slow
def test_sampling_is_seeded(either: Generator) -> None:
    generator = either
    a = generator.generate(PROMPTS[:2], n=3, seed=7, temperature=1.0, max_new_tokens=40)
    b = generator.generate(PROMPTS[:2], n=3, seed=7, temperature=1.0, max_new_tokens=40)
    assert [[s.text for s in c] for c in a] == [[s.text for s in c] for c in b]
    assert all(s.tokens <= 40 for c in a for s in c)


@pytest.mark.slow
def test_context_and_limits(either: Generator) -> None:
    generator = either
    [[s]] = generator.generate(PROMPTS[:1], n=1, temperature=0.0, max_new_tokens=5, context="brand: acme")
    assert s.tokens <= 5 and not s.finished
    assert generator.generate([], n=2) == []


@pytest.mark.slow
def test_evaluate_reports_everything(trained_model: Trained, corpus: list[SyntheticExample]) -> None:
    final = trained_model.result.final_dir
    assert final is not None
    prompts = [e.prompt for e in generate_corpus(24, seed=77)]
    result = evaluate(final, corpus[1400:1450], prompts, gallery_size=4)
    assert result.samples == 24
    assert result.val_loss is not None and result.val_loss > 0
    assert result.perplexity is not None and result.perplexity > 1
    assert 0 < result.validity_rate <= 1  # a few seconds of training already yields SVG that parses
    assert 0 <= result.adherence_rate <= result.validity_rate
    assert result.valid_nonblank_rate <= result.validity_rate
    assert len(result.gallery) == 4 and all(g.prompt in prompts for g in result.gallery)
    assert set(result.aspect_rates) >= {"shape", "colour", "position"}


@pytest.mark.slow
def test_requests_joining_a_running_batch_decode_as_if_alone(hf_generator: Generator) -> None:
    generator = hf_generator
    alone = {i: generator.generate([p], max_new_tokens=160)[0][0] for i, p in enumerate(PROMPTS)}
    batch = generator.batch()
    done: dict[object, list] = {}
    steps = 0
    waiting = list(enumerate(PROMPTS))
    while waiting or batch:
        if waiting and steps % 4 == 0:  # one request joins every fourth step, mid-flight
            key, prompt = waiting.pop(0)
            done.update(batch.add([(key, DecodeRequest(prompt, max_new_tokens=160))]))
        done.update(batch.step())
        steps += 1
        assert batch.rows == [] or batch._mask.shape[1] <= generator.max_positions
    assert len(batch) == 0 and not batch
    assert {k: (s[0].text, s[0].tokens) for k, s in done.items()} == {
        k: (s.text, s.tokens) for k, s in alone.items()
    }


@pytest.mark.slow
def test_a_sampled_request_does_not_depend_on_its_batch(either: Generator) -> None:
    generator = either
    alone = generator.generate(PROMPTS[:1], n=3, seed=11, temperature=1.0, max_new_tokens=60)[0]
    batch = generator.batch()
    done = batch.add([("greedy", DecodeRequest(PROMPTS[1], max_new_tokens=60))])
    done.update(batch.step())
    done.update(
        batch.add([("sampled", DecodeRequest(PROMPTS[0], n=3, seed=11, temperature=1.0, max_new_tokens=60))])
    )
    while batch:
        done.update(batch.step())
    assert [s.text for s in done["sampled"]] == [s.text for s in alone]
    assert len(done["greedy"]) == 1


@pytest.mark.slow
def test_a_request_without_room_is_done_at_once(either: Generator) -> None:
    generator = either
    batch = generator.batch()
    done = batch.add([("long", DecodeRequest("circle " * 400)), ("none", DecodeRequest("x", n=0))])
    assert done["long"] == [Sample(text="", tokens=0, finished=False)] and done["none"] == []
    assert not batch
