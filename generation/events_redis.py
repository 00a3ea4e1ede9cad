"""generation.events across processes, over Redis pub/sub (only with REDIS_URL: the embedded broker's
processes wake their own waiters). A finish is published on one channel; each process that has had a
waiter keeps one subscriber thread, which wakes the waits of its own process on that request (they read
the row again). A publish or a subscription that fails is logged and left to the waits' polling: the
answer comes later, never wrong. A forked process starts a subscriber of its own on its first wait.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings

log = logging.getLogger(__name__)
CHANNEL = "atelier:generation-finished"

_lock = threading.Lock()
_publisher: Any = None
_publisher_key: tuple[int, str] = (-1, "")  # the process and the URL the client was made for
_listener_pid = -1


def _client() -> Any:
    import redis

    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=5)


def publish(output_id: object) -> None:
    global _publisher, _publisher_key
    if not settings.REDIS_URL:
        return
    try:
        with _lock:
            key = (os.getpid(), settings.REDIS_URL)
            if _publisher is None or _publisher_key != key:
                _publisher, _publisher_key = _client(), key
            publisher = _publisher
        publisher.publish(CHANNEL, str(output_id))
    except Exception:  # noqa: BLE001 - the waits poll; nothing is lost
        log.warning("could not publish a generation's finish; waiters will poll", exc_info=True)


def listen(on_finish: Callable[[str], None]) -> None:
    """Start this process's subscriber thread, once (and again in a forked child): it calls
    `on_finish(output_id)` for every finish published by any process."""
    global _listener_pid
    if not settings.REDIS_URL or _listener_pid == os.getpid():
        return
    with _lock:
        if _listener_pid == os.getpid():
            return
        ready = threading.Event()
        threading.Thread(
            target=_run, args=(ready, on_finish), name="atelier-wait-listener", daemon=True
        ).start()
        _listener_pid = os.getpid()
    ready.wait(1.0)  # subscribed (or failed): a finish published from now on is heard


def _run(ready: threading.Event, on_finish: Callable[[str], None]) -> None:
    delay = 0.1
    while True:
        try:
            pubsub = _client().pubsub(ignore_subscribe_messages=True)
            pubsub.subscribe(CHANNEL)
            pubsub.get_message(timeout=1.0)  # the subscription's confirmation
            ready.set()
            delay = 0.1
            while True:
                message = pubsub.get_message(timeout=30.0)
                if message and message.get("type") == "message":
                    data = message["data"]
                    on_finish(data.decode() if isinstance(data, bytes) else str(data))
        except Exception:  # noqa: BLE001 - Redis went away: the waits poll until it is back
            ready.set()
            log.warning("generation wake-ups: Redis subscription lost; retrying", exc_info=True)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
