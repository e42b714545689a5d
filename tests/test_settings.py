from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from dashboard import settings as project_settings


def _import_settings(env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG")}
    return subprocess.run(
        [sys.executable, "-c", "import dashboard.settings"],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_missing_secret_key_outside_debug_fails_at_start():
    result = _import_settings({"DEBUG": "false"})
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_debug_runs_without_secret_key():
    assert _import_settings({"DEBUG": "true"}).returncode == 0


def test_bad_boolean_is_refused(monkeypatch):
    monkeypatch.setenv("X_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="X_FLAG must be a boolean"):
        project_settings.env_bool("X_FLAG")


def test_bad_integer_is_refused(monkeypatch):
    monkeypatch.setenv("X_NUMBER", "12x")
    with pytest.raises(ImproperlyConfigured, match="X_NUMBER must be an integer"):
        project_settings.env_int("X_NUMBER", 1)
    monkeypatch.setenv("X_NUMBER", "0")
    with pytest.raises(ImproperlyConfigured, match="at least 1"):
        project_settings.env_int("X_NUMBER", 1, minimum=1)


def test_secret_from_file(monkeypatch, tmp_path):
    path = tmp_path / "key"
    path.write_text("from-a-file\n")
    monkeypatch.setenv("X_SECRET_FILE", str(path))
    assert project_settings.env_secret("X_SECRET") == "from-a-file"


def test_bad_database_url_fails_at_start():
    result = _import_settings({"DEBUG": "true", "DATABASE_URL": "nonsense://x"})
    assert result.returncode != 0
    assert "DATABASE_URL" in result.stderr


def test_q_cluster_invariants(settings):
    q = settings.Q_CLUSTER
    assert q["timeout"] < q["retry"]
    assert q["catch_up"] is False and q["max_attempts"] == 1
    assert ("redis" in q) == bool(settings.REDIS_URL)
    assert ("orm" in q) == (not settings.REDIS_URL)
    assert q["sync"] is True


def test_sqlite_uses_wal_and_a_busy_timeout(settings):
    db = settings.DATABASES["default"]
    if not db["ENGINE"].endswith("sqlite3"):
        pytest.skip("SQLite only")
    assert "journal_mode=WAL" in db["OPTIONS"]["init_command"]
    assert db["OPTIONS"]["timeout"] >= 5


@pytest.mark.parametrize(("retry", "timeout", "refused"), [(120, 90, False), (90, 90, True)])
def test_a_task_retry_within_its_timeout_is_a_check_error(settings, retry, timeout, refused):
    from jobs.checks import check_q_cluster

    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "retry": retry, "timeout": timeout}
    ids = [message.id for message in check_q_cluster()]
    assert ("clapboard.E002" in ids) is refused


def _workers(env: dict[str, str]) -> int:
    clean = {
        k: v for k, v in os.environ.items() if k not in ("Q_WORKERS", "CLAPBOARD_REFRESH_LOOPS")
    }
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from dashboard import settings; print(settings.Q_CLUSTER['workers'])",
        ],
        env={**clean, "DEBUG": "true", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return int(result.stdout.strip().splitlines()[-1])


def test_the_cluster_has_a_worker_more_than_there_are_loops():
    # The loops hold their workers all minute: with none spare, Refresh now waits for one.
    assert _workers({}) == 3
    assert _workers({"CLAPBOARD_REFRESH_LOOPS": "4"}) == 5
    assert _workers({"CLAPBOARD_REFRESH_LOOPS": "4", "Q_WORKERS": "8"}) == 8


@pytest.mark.parametrize(("workers", "warned"), [(3, False), (2, True), (1, True)])
def test_workers_no_more_than_loops_is_a_check_warning(settings, workers, warned):
    from jobs.checks import check_q_cluster

    settings.CLAPBOARD_REFRESH_LOOPS = 2
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "workers": workers}
    ids = [message.id for message in check_q_cluster()]
    assert ("clapboard.W002" in ids) is warned
