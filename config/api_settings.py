"""The API's settings blocks: Django REST framework's (built from the environment's throttle rates and
trusted proxies, which config/settings.py reads) and drf-spectacular's (constants)."""

from __future__ import annotations

from typing import Any


def rest_framework_settings(*, throttle_rates: dict[str, str], num_proxies: int) -> dict[str, Any]:
    """REST_FRAMEWORK: authentication, parsers, paging, errors and throttles."""
    return {
        "DEFAULT_AUTHENTICATION_CLASSES": [
            # DRF's token authentication, with failed attempts throttled per client IP.
            "core.api_auth.ThrottledTokenAuthentication",
            "rest_framework.authentication.SessionAuthentication",
        ],
        "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
        # JSON bodies: refused with 400 when nested too deeply or holding NaN/Infinity/1e400 (core.api_json).
        "DEFAULT_PARSER_CLASSES": [
            "core.api_json.StrictJSONParser",
            "rest_framework.parsers.FormParser",
            "rest_framework.parsers.MultiPartParser",
        ],
        "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
        "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
        "PAGE_SIZE": 50,
        "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
        "EXCEPTION_HANDLER": "core.api_errors.exception_handler",
        "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.UserRateThrottle"],
        "DEFAULT_THROTTLE_RATES": throttle_rates,
        # Anonymous throttles key on the client IP through the trusted proxies only (DRF reads the header
        # otherwise).
        "NUM_PROXIES": num_proxies,
    }


SPECTACULAR_SETTINGS = {
    "TITLE": "Atelier API",
    "DESCRIPTION": "Text (and images) in, sanitised SVG designs and PNG renders out.",
    "VERSION": "1.0.0",
    # 3.1: the version of OpenAPI with a `webhooks` section (integrations.schema).
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ExampleStatusEnum": "training.models.TrainingExample.Status",
        "JobStatusEnum": "core.jobs.models.JobStatus",
        "DatasetStatusEnum": "training.models.Dataset.Status",
    },
    # What Atelier POSTs to webhook subscribers (integrations), one entry per event type.
    "WEBHOOKS": "integrations.schema.WEBHOOKS",
    # After the enums: every operation documents the error codes any call may get (core.api_errors).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.api_errors.document_common_errors",
    ],
}
