"""Django's ModelBackend with each user's permission set kept in the cache between requests.

Django keeps a user's permissions only on the user object, and token and session authentication load
that object afresh for every request, so every API call ran the same two permission queries (about a
millisecond of a 12 ms call, measured with bench/generation_bench.py). Here the set is kept in the cache
(Redis when REDIS_URL is set, so every process sees the same entries) and checked against a generation
token: any committed change to a user's groups or permissions, a group's permissions, a permission, a
group or a user row replaces the token, and every entry cached under the old one is computed afresh.
AUTH_PERMISSION_CACHE_SECONDS bounds an entry's life (0 turns the cache off). When the cache cannot be
reached, the permissions come from the database as Django's backend does.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from django.db import transaction

log = logging.getLogger(__name__)
GENERATION_KEY = "auth:perms:generation"


def _entry_key(user_pk: Any) -> str:
    return f"auth:perms:user:{user_pk}"


class CachedModelBackend(ModelBackend):
    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            user_obj._perm_cache = cached_permissions(
                user_obj.pk,
                lambda: set(ModelBackend.get_all_permissions(self, user_obj)),
                superuser=bool(user_obj.is_superuser),
            )
        return user_obj._perm_cache


def cached_permissions(user_pk: Any, compute: Callable[[], set[str]], *, superuser: bool = False) -> set[str]:
    """The user's permission set from the cache when its entry belongs to the current generation and was
    computed for the same superuser flag as the user row just loaded (a flag changed by a queryset update
    sends no signal), else `compute()`d and stored under the generation read before computing (so a
    change committed meanwhile still replaces it)."""
    seconds = int(getattr(settings, "AUTH_PERMISSION_CACHE_SECONDS", 300) or 0)
    if seconds <= 0:
        return compute()
    key = _entry_key(user_pk)
    try:
        found = cache.get_many([GENERATION_KEY, key])
        generation = found.get(GENERATION_KEY)
        if generation is None:
            cache.add(GENERATION_KEY, uuid.uuid4().hex, timeout=None)
            generation = cache.get(GENERATION_KEY)
        entry = found.get(key)
        if generation is not None and entry and entry[0] == (generation, superuser):
            return set(entry[1])
    except Exception:  # the cache is an optimisation: without it, ask the database
        log.warning("permission cache unavailable", exc_info=True)
        return compute()
    perms = compute()
    if generation is not None:
        try:
            cache.set(key, ((generation, superuser), sorted(perms)), timeout=seconds)
        except Exception:
            log.warning("permission cache unavailable", exc_info=True)
    return perms


def permissions_changed(**_: Any) -> None:
    """A signal receiver: every cached permission set is stale, now and again once the change commits
    (a set cached meanwhile from the rows before the commit is then replaced too)."""
    _new_generation()
    transaction.on_commit(_new_generation, robust=True)


def _new_generation() -> None:
    try:
        cache.set(GENERATION_KEY, uuid.uuid4().hex, timeout=None)
    except Exception:  # entries then live out their AUTH_PERMISSION_CACHE_SECONDS
        log.error("could not invalidate the permission cache", exc_info=True)


def connect_signals() -> None:
    """Every way our code changes permissions: the relations' managers (m2m_changed), their through
    models written directly (which send no signal: _watch_through), the rows themselves, and `migrate`
    (a migration's historical models reach none of these, and a Redis cache outlives a deploy);
    sync_roles replaces the cache itself. Raw SQL is seen after AUTH_PERMISSION_CACHE_SECONDS, or at
    the next `migrate`."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group, Permission
    from django.db.models.signals import m2m_changed, post_delete, post_migrate, post_save

    user_model = get_user_model()
    for through in (
        user_model.groups.through,
        user_model.user_permissions.through,
        Group.permissions.through,
    ):
        m2m_changed.connect(
            permissions_changed, sender=through, dispatch_uid=f"perm-cache-{through.__name__}"
        )
        _watch_through(through)
    post_migrate.connect(permissions_changed, dispatch_uid="perm-cache-migrate")
    for model in (Group, Permission, user_model):
        post_save.connect(_saved, sender=model, dispatch_uid=f"perm-cache-save-{model.__name__}")
        post_delete.connect(
            permissions_changed, sender=model, dispatch_uid=f"perm-cache-del-{model.__name__}"
        )


def _watch_through(through: Any) -> None:
    """Django sends no save or delete signal for an auto-created through model (`Model.save_base` and
    the deletion collector skip them), so `User.groups.through.objects.filter(user=u).delete()` changed
    permissions unseen. Its managers' querysets and its rows' save and delete replace the cache here."""
    from django.db import models

    class WatchedQuerySet(models.QuerySet):
        def delete(self) -> Any:
            result = super().delete()
            permissions_changed()
            return result

        def update(self, **kwargs: Any) -> int:
            result = super().update(**kwargs)
            permissions_changed()
            return result

        def bulk_create(self, *args: Any, **kwargs: Any) -> Any:
            result = super().bulk_create(*args, **kwargs)
            permissions_changed()
            return result

        def bulk_update(self, *args: Any, **kwargs: Any) -> Any:
            result = super().bulk_update(*args, **kwargs)
            permissions_changed()
            return result

    for manager in {id(m): m for m in (through._default_manager, through._base_manager)}.values():
        manager._queryset_class = WatchedQuerySet

    def save(self: Any, *args: Any, **kwargs: Any) -> None:
        models.Model.save(self, *args, **kwargs)
        permissions_changed()

    def delete(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = models.Model.delete(self, *args, **kwargs)
        permissions_changed()
        return result

    through.save, through.delete = save, delete


def _saved(sender: Any, update_fields: Any = None, **kwargs: Any) -> None:
    # A login only stamps last_login: nothing a permission depends on.
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return
    permissions_changed()
