"""STORAGES: a local media folder by default; S3-compatible storage when a bucket is named."""

from __future__ import annotations

from typing import Any

import environ


def storages_settings(env: environ.Env, *, bucket_name: str) -> dict[str, Any]:
    """The STORAGES setting; the S3 endpoint, region and keys are read from `env` when a bucket is named."""
    if bucket_name:
        default_storage = {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket_name,
                "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default="") or None,
                "region_name": env.str("AWS_S3_REGION_NAME", default="") or None,
                "access_key": env.str("AWS_ACCESS_KEY_ID", default="") or None,
                "secret_key": env.str("AWS_SECRET_ACCESS_KEY", default="") or None,
                "default_acl": None,
                "querystring_auth": True,
                "file_overwrite": False,
            },
        }
    else:
        default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    return {
        "default": default_storage,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
