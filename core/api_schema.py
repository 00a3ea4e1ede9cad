"""How the OpenAPI schema names the API's authentication schemes (drf-spectacular extensions, registered
when core's app is ready)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """A token sent as `Bearer` (core.api_auth.BearerTokenAuthentication). drf-spectacular's own extension
    for DRF tokens would give it the name of the `Token` scheme, a clash."""

    target_class = "core.api_auth.BearerTokenAuthentication"
    name = "bearerAuth"
    priority = 1

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token as `Authorization: Bearer <token>`, as OpenAI clients send their key.",
        }
