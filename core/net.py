"""The client's IP address, the one way every part of Atelier reads it (request log, audit trail, admin
login lockout, throttles).

`X-Forwarded-For` is believed only as far as settings.TRUSTED_PROXY_COUNT says: that many proxies in front
of the application each appended the address they received the request from, so the client is the entry
that many hops from the right (counting REMOTE_ADDR, the last proxy, as the first hop). With the default of
0 the header is ignored and REMOTE_ADDR is the client, whatever the client wrote in the header.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from django.conf import settings


def _address(value: str) -> str | None:
    """An IP address from a header entry (ports and IPv6 brackets removed), or None if it is not one."""
    value = value.strip()
    if value.startswith("["):  # [v6]:port
        value = value[1:].split("]", 1)[0]
    elif value.count(":") == 1:  # v4:port
        value = value.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def client_ip(request: Any) -> str | None:
    """The client's address as far as the trusted proxies (settings.TRUSTED_PROXY_COUNT) vouch for it."""
    meta = getattr(request, "META", {})
    remote = _address(meta.get("REMOTE_ADDR") or "")
    hops = max(0, int(getattr(settings, "TRUSTED_PROXY_COUNT", 0) or 0))
    if hops == 0:
        return remote
    forwarded = [e for e in (meta.get("HTTP_X_FORWARDED_FOR") or "").split(",") if e.strip()]
    chain = [*forwarded, meta.get("REMOTE_ADDR") or ""]
    # chain[-1] is the nearest proxy; each trusted proxy vouches for the entry to its left.
    if len(chain) <= hops:
        return remote  # fewer entries than trusted proxies: the request did not come through them all
    return _address(chain[-1 - hops]) or remote
