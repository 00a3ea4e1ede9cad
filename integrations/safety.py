"""Where a webhook may go: the URL's host is resolved once, every address it resolves to must be public
(unless settings.WEBHOOKS_ALLOW_PRIVATE), and the caller connects to the address checked here, so a DNS
answer that changes between check and connect (rebinding) cannot reach an internal service."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # for the Host header and TLS's SNI and certificate check
    port: int
    address: str  # the checked IP the connection goes to
    path: str


def _refused(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


def target_resolve(url: str) -> Target:
    """The checked target of `url`, or ValidationError({"url": ...})."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError({"url": "Use an http:// or https:// URL with a host name."})
    if parts.username or parts.password:
        raise ValidationError(
            {"url": "Put no user name or password in the URL; the signature authenticates."}
        )
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ValidationError({"url": "The URL's port is not a number between 0 and 65535."})
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise ValidationError({"url": f"The host {parts.hostname!r} does not resolve."})
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise ValidationError({"url": f"The host {parts.hostname!r} does not resolve."})
    if not settings.WEBHOOKS_ALLOW_PRIVATE:
        bad = [a for a in addresses if _refused(ipaddress.ip_address(a.split("%", 1)[0]))]
        if bad:
            raise ValidationError(
                {"url": f"{parts.hostname} resolves to a private, loopback or link-local address ({bad[0]})."}
            )
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(parts.scheme, parts.hostname, port, addresses[0], path)
