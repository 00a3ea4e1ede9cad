"""Token authentication with failed attempts throttled per client IP (core.net.client_ip).

Its own module, free of rest_framework.views: DRF's settings (DEFAULT_AUTHENTICATION_CLASSES) import it.
"""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication, get_authorization_header
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from core.net import client_ip


class FailedAuthThrottle(SimpleRateThrottle):
    """Counts wrong or unknown tokens per client IP (rate `failed_auth`); past it the IP must wait."""

    scope = "failed_auth"

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": client_ip(request) or "unknown"}

    def blocked(self, request: Any) -> bool:
        """Whether this IP has used up its failures; reads the count without adding to it."""
        if self.rate is None:  # no rate configured: failures are not counted
            return False
        self.key = self.get_cache_key(request, None)
        self.now = self.timer()
        self.history = [t for t in self.cache.get(self.key, []) if t > self.now - self.duration]
        return len(self.history) >= self.num_requests

    def record_failure(self) -> None:
        if self.rate is None:
            return
        self.history.insert(0, self.now)
        self.cache.set(self.key, self.history, self.duration)


class ThrottledTokenAuthentication(TokenAuthentication):
    """DRF's token authentication; an IP that has sent too many wrong tokens is answered 429 (with
    Retry-After) for any token until its window passes, so tokens cannot be guessed at full speed."""

    def authenticate(self, request: Request) -> Any:
        auth = get_authorization_header(request).split()
        if not auth or auth[0].lower() != self.keyword.lower().encode():
            return None
        throttle = FailedAuthThrottle()
        if throttle.blocked(request):
            raise exceptions.Throttled(wait=throttle.wait())
        try:
            return super().authenticate(request)
        except exceptions.AuthenticationFailed:
            throttle.record_failure()
            raise


class BearerTokenAuthentication(ThrottledTokenAuthentication):
    """The same tokens sent as `Authorization: Bearer <token>`, as OpenAI clients send their API key."""

    keyword = "Bearer"
