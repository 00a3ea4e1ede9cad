"""Webhook secrets: made here, stored Fernet-encrypted, decrypted only to sign.

Keys come from settings.WEBHOOK_SECRET_KEY (the environment): one or more Fernet keys, comma-separated,
the first encrypting (MultiFernet: rotate by putting a new key first). Unset, a key is derived from
SECRET_KEY, so a development install works; production sets its own."""

from __future__ import annotations

import base64
import hashlib
import secrets

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings

PREFIX = "whsec_"


def _fernet() -> MultiFernet:
    keys = [k.strip() for k in (settings.WEBHOOK_SECRET_KEY or "").split(",") if k.strip()]
    if not keys:
        digest = hashlib.sha256(f"atelier-webhooks:{settings.SECRET_KEY}".encode()).digest()
        keys = [base64.urlsafe_b64encode(digest).decode()]
    return MultiFernet([Fernet(k.encode()) for k in keys])


def secret_new() -> str:
    """A Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def secret_decrypt(token: str) -> str:
    return _fernet().decrypt(token.encode()).decode()
