"""Users with roles and tiny models, defined once for every test (a pytest plugin the root conftest.py
registers, so its fixtures need no import; its helpers are imported from here). Free of Django at import:
subprocesses (tests/test_distributed_runs.py) import tiny_config from here.

- `superuser`: a superuser logged in on the test client; `user_in_role`: a user in one of core.roles' groups.
- `TINY_MODEL` / `tiny_config()`: a model that trains a step in milliseconds, for slm's training code;
  `tiny_params()`: the same model as a training run's parameters (training.params.TrainingParams).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from slm.model import ModelConfig
from slm.train.config import TrainConfig

# The real icon sets beside the checkout (../shared/data), never copied into it.
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
LUCIDE_ICONS = SHARED_DATA / "lucide" / "icons"
MDI_ICONS = SHARED_DATA / "mdi" / "icons"

TINY_MODEL = ModelConfig(n_layer=1, n_embd=32, n_head=2, n_positions=256)


def tiny_config(**overrides: Any) -> TrainConfig:
    """A model that trains a step in milliseconds: for mechanics (resume, cancel, checkpoints)."""
    base: dict[str, Any] = {
        "model": TINY_MODEL,
        "batch_size": 16,
        "learning_rate": 5e-3,
        "warmup_steps": 5,
        "max_steps": 20,
        "budget_seconds": None,
        "checkpoint_every": 10,
        "progress_every": 1,
        "num_threads": 1,
    }
    return TrainConfig(**{**base, **overrides})


def tiny_params(**overrides: Any) -> dict[str, Any]:
    """A training run's parameters for TINY_MODEL, bounded by steps (30 unless overridden), one thread."""
    base = {
        "max_steps": 30,
        "budget_seconds": 0,
        "batch_size": 8,
        "n_layer": TINY_MODEL.n_layer,
        "n_embd": TINY_MODEL.n_embd,
        "n_head": TINY_MODEL.n_head,
        "checkpoint_every": 10,
        "warmup_steps": 2,
        "num_threads": 1,
    }
    return {**base, **overrides}


def user_in_role(username: str, role: str | None = None, **extra: Any) -> Any:
    """A user in a role's group (synced first when a transactional test flushed the migration's rows)."""
    from django.contrib.auth.models import Group

    from tests.factories import UserFactory

    user = UserFactory(username=username, **extra)
    if role is not None:
        if not Group.objects.filter(name=role).exists():
            from django.apps import apps

            from core.roles import sync_roles

            sync_roles(apps)
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def superuser(db: Any, client: Any) -> Any:
    """A superuser ("root"), logged in on `client`."""
    from tests.factories import UserFactory

    user = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(user)
    return user
