"""The design SLM, without Django: synthetic corpus, adherence checking, tokenizer, model, training,
sampling, evaluation and the demo. Modules import torch/transformers lazily; `synthetic` and
`adherence` never do, so Django code paths can import them cheaply."""
