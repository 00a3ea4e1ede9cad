"""External versions' API keys, encrypted at rest with Fernet (EXTERNAL_KEYS_FERNET, newest key first, so
keys can be rotated): encrypted before they are stored, decrypted only to build the endpoint's client
(training.artifacts.external_generator), never shown, logged or audited."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def _fernet() -> MultiFernet:
    keys = [k for k in settings.EXTERNAL_KEYS_FERNET if k]
    if not keys:
        raise ImproperlyConfigured("Set EXTERNAL_KEYS_FERNET (Fernet.generate_key()) to store API keys.")
    return MultiFernet([Fernet(k.encode() if isinstance(k, str) else k) for k in keys])


def api_key_encrypt(plain: str) -> str:
    return _fernet().encrypt(plain.encode()).decode() if plain else ""


def api_key_decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:  # the key was rotated away: say so, never what the token holds
        raise ImproperlyConfigured(
            "An external version's API key cannot be decrypted with EXTERNAL_KEYS_FERNET."
        ) from exc
