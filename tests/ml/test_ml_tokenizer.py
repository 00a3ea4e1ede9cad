from __future__ import annotations

from pathlib import Path

import pytest

from slm.synthetic import SyntheticExample, generate_corpus
from slm.tokenizer import (
    BOS,
    EOS,
    PAD,
    SEP,
    UNK,
    build_prefix_ids,
    decode,
    encode_texts,
    load_tokenizer,
    save_tokenizer,
    train_tokenizer,
)


@pytest.fixture(scope="module")
def examples() -> list[SyntheticExample]:
    return list(generate_corpus(2000, seed=7))


@pytest.fixture(scope="module")
def tokenizer(examples: list[SyntheticExample], tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    tok = train_tokenizer(t for e in examples for t in (e.prompt, e.svg))
    path = tmp_path_factory.mktemp("tok")
    save_tokenizer(tok, path)
    return load_tokenizer(path)  # every test runs on the reloaded one: save/load is part of the contract


def test_special_tokens(tokenizer) -> None:  # type: ignore[no-untyped-def]
    assert (tokenizer.bos_token, tokenizer.eos_token, tokenizer.pad_token) == (BOS, EOS, PAD)
    assert (tokenizer.sep_token, tokenizer.unk_token) == (SEP, UNK)
    ids = {tokenizer.convert_tokens_to_ids(t) for t in (BOS, EOS, PAD, SEP, UNK)}
    assert len(ids) == 5 and tokenizer.unk_token_id not in ids - {tokenizer.unk_token_id}


def test_round_trip_is_exact(tokenizer, examples: list[SyntheticExample]) -> None:  # type: ignore[no-untyped-def]
    held_out = list(generate_corpus(500, seed=99))  # same vocabulary, different designs
    texts = [t for e in examples[:300] + held_out for t in (e.prompt, e.svg)]
    for text, ids in zip(texts, encode_texts(tokenizer, texts), strict=True):
        assert decode(tokenizer, ids) == text
        assert tokenizer.unk_token_id not in ids
    # Through the ordinary transformers API too.
    svg = held_out[0].svg
    assert tokenizer.decode(tokenizer(svg)["input_ids"], skip_special_tokens=True) == svg


def test_svg_units_are_single_tokens(tokenizer, examples: list[SyntheticExample]) -> None:  # type: ignore[no-untyped-def]
    svg = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 96 96"><circle cx="-8" cy="0" r="7"/></svg>'
    tokens = tokenizer.convert_ids_to_tokens(encode_texts(tokenizer, [svg])[0])
    for unit in ("<circle", ' cx="', '" cy="', "-8", " 96", '"/>', "</svg>"):
        assert unit in tokens, (unit, tokens)
    prompt_tokens = tokenizer.convert_ids_to_tokens(encode_texts(tokenizer, [examples[0].prompt])[0])
    assert len(prompt_tokens) == len(examples[0].prompt.split())  # word level
    hexes = [t for t in tokenizer.convert_ids_to_tokens(encode_texts(tokenizer, [examples[0].svg])[0])]
    assert any(t.startswith("#") and len(t) == 7 for t in hexes)
    # Short sequences: several characters per token on average.
    n_chars = sum(len(e.svg) for e in examples[:200])
    n_tokens = sum(len(ids) for ids in encode_texts(tokenizer, [e.svg for e in examples[:200]]))
    assert n_chars / n_tokens > 4


def test_unseen_ascii_still_round_trips(tokenizer) -> None:  # type: ignore[no-untyped-def]
    text = '<svg viewBox="0 0 10 10"><path d="M1.5 2.25C3 4 5 6 7 8z" style="opacity:.5"/>\n\t</svg>'
    assert decode(tokenizer, encode_texts(tokenizer, [text])[0]) == text


def test_prefix_ids(tokenizer) -> None:  # type: ignore[no-untyped-def]
    [ids] = build_prefix_ids(tokenizer, ["a small red circle at the top"])
    assert ids[0] == tokenizer.bos_token_id and ids[-1] == tokenizer.sep_token_id
    [with_ctx] = build_prefix_ids(tokenizer, ["a small red circle at the top"], ["brand blue"])
    assert len(with_ctx) > len(ids)
    assert decode(tokenizer, with_ctx) == "brand blue\na small red circle at the top"


def test_saved_files(tmp_path: Path, tokenizer) -> None:  # type: ignore[no-untyped-def]
    save_tokenizer(tokenizer, tmp_path)
    assert (tmp_path / "tokenizer.json").is_file()
    again = load_tokenizer(tmp_path)
    assert again.get_vocab() == tokenizer.get_vocab()


def test_model_form_units_are_one_token_each(tmp_path: Path) -> None:
    """The model form: every unit one token (commands, arcs with flags, coordinates, paint), even units
    BPE never saw, and the prompt's words still BPE pieces; round trip exact after save and load."""
    from slm.form.encode import encode
    from slm.form.spec import form_units

    prompts = ["anchor icon; tags: ship, boat", "arrow down icon; tags: direction"] * 5
    form = encode(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="none" stroke="currentColor" '
        'stroke-width="2"><path d="m19 13 2-1a9 9 0 0 1-18 0l2 1"/><rect x="3" y="3" width="6" height="6" '
        'rx="1" fill="#e53935"/></svg>',
        96,
    ).text
    tok = train_tokenizer(prompts, vocab_size=300, units=[*form_units(96), *form.split()])
    save_tokenizer(tok, tmp_path)
    tok = load_tokenizer(tmp_path)
    [ids] = encode_texts(tok, [form])
    assert len(ids) == len(form.split()) and tok.unk_token_id not in ids
    assert decode(tok, ids) == form
    [rare] = encode_texts(tok, ["<circle 143 -48 1 R11 5 6 7"])  # never seen, still whole
    assert len(rare) == 8
    points = [
        u for u in form.split() if "," in u
    ]  # form version 2: a point a unit, from the forms trained on
    assert points and len(encode_texts(tok, [" ".join(points)])[0]) == len(points)
    [unseen] = encode_texts(tok, ["<path 1234,-567"])  # a point never seen: BPE pieces, still lossless
    assert len(unseen) > 2 and decode(tok, unseen) == "<path 1234,-567"
    [prompt] = encode_texts(tok, ["anchor icon; tags: ship"])
    assert decode(tok, prompt) == "anchor icon; tags: ship"


def test_points_and_numbers_get_no_bare_token_but_a_design_still_encodes_whole() -> None:
    from slm.form.spec import form_units, opening_units

    form = "fill:none <path 10,12 C 11,12 13,14 15,16 Z <circle 20,20 40"
    units = [*form_units(48), *form.split()]
    tok = train_tokenizer(["a ring icon"] * 4, vocab_size=300, units=units, openers=opening_units(units))
    vocab = tok.get_vocab()
    assert " 10,12" in vocab and "10,12" not in vocab  # a point never opens a design
    assert " 40" in vocab and "40" not in vocab
    assert "fill:none" in vocab and "<path" in vocab and "<circle" in vocab  # these may
    [ids] = encode_texts(tok, [form])
    assert len(ids) == len(form.split()) and decode(tok, ids) == form
    everything = train_tokenizer(["a ring icon"] * 4, vocab_size=300, units=units)
    assert "10,12" in everything.get_vocab()  # openers=None: every unit both ways, as before
    numeric = {u for u in units if (u[0].isdigit() or u[0] == "-") and len(u) > 1}  # single digits: BPE's
    assert len(everything) - len(tok) == len(numeric)
