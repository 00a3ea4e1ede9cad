"""The one error of base-model checks (slm.base, slm.base_files, slm.base_meta, slm.base_lora)."""


class BaseModelError(ValueError):
    """A folder that cannot be used as a base model; the message says why, in words."""
