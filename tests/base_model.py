"""A tiny pretrained-style base model on disk, as a Hugging Face folder holds one: config.json,
model.safetensors (random weights) and its own byte-level BPE tokenizer with its own special tokens
(`<s>`, `</s>`), none of ours. No model hub: the test builds it."""

from __future__ import annotations

from pathlib import Path

from slm.synthetic import generate_corpus


def make_tiny_base(folder: Path, arch: str = "llama", seed: int = 0) -> Path:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import (
        GPT2Config,
        GPT2LMHeadModel,
        LlamaConfig,
        LlamaForCausalLM,
        PreTrainedTokenizerFast,
    )

    from slm.form.encode import try_encode

    folder.mkdir(parents=True, exist_ok=True)
    texts = []
    for e in generate_corpus(150, seed=seed):
        texts.append(e.prompt)
        form, _ = try_encode(e.svg, 24)
        texts.append(form.text if form is not None else e.svg)
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(texts, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<s>", eos_token="</s>")
    tokenizer.save_pretrained(str(folder))
    torch.manual_seed(seed)
    vocab = len(tokenizer)
    if arch == "llama":
        config = LlamaConfig(
            vocab_size=vocab,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            num_key_value_heads=2,
            max_position_embeddings=512,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
        model = LlamaForCausalLM(config)
    else:
        config = GPT2Config(
            vocab_size=vocab,
            n_positions=512,
            n_embd=32,
            n_layer=2,
            n_head=2,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
        model = GPT2LMHeadModel(config)
    model.save_pretrained(str(folder), safe_serialization=True)
    return folder
