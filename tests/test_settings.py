"""Production mode: refuses to start without its variables, and passes check --deploy when given them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "RABBITMQ_URL", "SECRET_KEY", "ALLOWED_HOSTS")
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_without_its_variables_names_every_missing_one(tmp_path):
    result = _manage("check", env={"ATELIER_ENV": "production", "ATELIER_VAR_DIR": str(tmp_path)})
    assert result.returncode != 0
    for name in ("SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL"):
        assert name in result.stderr


def test_production_passes_check_deploy_at_warning_level(tmp_path):
    env = {
        "ATELIER_ENV": "production",
        "ATELIER_VAR_DIR": str(tmp_path),
        "SECRET_KEY": "x" * 20 + "a-long-random-production-secret-key-0123456789",
        "ALLOWED_HOSTS": "atelier.example.com",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'prod.sqlite3'}",
        "REDIS_URL": "redis://127.0.0.1:1/0",
    }
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stderr + result.stdout


SHOW = (
    "from django.conf import settings; d = settings.DATABASES['default']; "
    "print(settings.MEDIA_ROOT); print(d['NAME']); print(d.get('TEST', {}).get('NAME', ''))"
)


def _settings_seen(env: dict[str, str]) -> list[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ATELIER_") and k != "DATABASE_URL"}
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", SHOW],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-3:]


def test_the_env_file_sets_the_var_dir_too(tmp_path):
    env_file = tmp_path / "atelier.env"
    env_file.write_text(f"ATELIER_VAR_DIR={tmp_path / 'from-env-file'}\n")
    media, database, _ = _settings_seen({"ATELIER_ENV_FILE": str(env_file)})
    assert media == str(tmp_path / "from-env-file" / "media")
    assert database == str(tmp_path / "from-env-file" / "atelier.sqlite3")


def test_the_sqlite_test_database_sits_beside_a_database_url_in_a_new_folder(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh' / 'db.sqlite3'}"
    _, database, test_database = _settings_seen(
        {"DATABASE_URL": url, "ATELIER_ENV_FILE": str(tmp_path / "none.env")}
    )
    assert Path(test_database).parent == Path(database).parent == tmp_path / "fresh"
    assert (tmp_path / "fresh").is_dir()  # so `pytest tests/x.py` on a fresh clone can open it


def test_with_redis_an_idle_worker_polls_its_queues_every_20_ms_at_most(tmp_path):
    """Dramatiq's Redis consumer backs off to `dramatiq_worker_timeout` ms when idle (1,000 by default):
    the settings bound it before Dramatiq is imported, in this process and the worker it starts."""
    show = "import dramatiq.worker, os; print(dramatiq.worker.WORKER_TIMEOUT, os.environ['dramatiq_worker_timeout'])"
    base = {"ATELIER_VAR_DIR": str(tmp_path), "REDIS_URL": "redis://127.0.0.1:1/0"}
    result = _manage("shell", "--no-imports", "-c", show, env=base)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["20", "20"]
    result = _manage("shell", "--no-imports", "-c", show, env={**base, "DRAMATIQ_WORKER_TIMEOUT_MS": "50"})
    assert result.stdout.split() == ["50", "50"]


def test_rabbitmq_url_picks_dramatiqs_rabbitmq_broker_with_publisher_confirms(tmp_path):
    """RABBITMQ_URL wins over REDIS_URL for the messages (Redis stays the cache); no embedded worker then.
    The broker connects lazily, so nothing need listen for the choice to be seen."""
    show = (
        "import dramatiq; from django.conf import settings; b = dramatiq.get_broker(); "
        "print(type(b).__name__, b.confirm_delivery, settings.EMBEDDED_BROKER)"
    )
    base = {"ATELIER_VAR_DIR": str(tmp_path), "RABBITMQ_URL": "amqp://guest:guest@127.0.0.1:1/%2F"}
    result = _manage("shell", "--no-imports", "-c", show, env=base)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["RabbitmqBroker", "True", "False"]
    both = {**base, "REDIS_URL": "redis://127.0.0.1:1/0"}
    result = _manage("shell", "--no-imports", "-c", show, env=both)
    assert result.stdout.split() == ["RabbitmqBroker", "True", "False"], result.stderr[-2000:]
