"""When the database cannot be reached (a restart, a failover), a person reads that Maillage is
briefly unavailable and when to try again, and an API client gets a 503 with `Retry-After`: not a
500 that says something broke, nor a 401 that says her key is wrong."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from service.app import create_app
from service.config import settings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def app_without_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    """The app pointed at a PostgreSQL address where nothing listens."""
    monkeypatch.setenv("MAILLAGE_ENV", "development")
    monkeypatch.setenv("MAILLAGE_DATA_DIR", str(tmp_path / "instance"))
    settings.cache_clear()
    yield create_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"postgresql+psycopg://maillage@127.0.0.1:{free_port()}/maillage",
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
        }
    )
    settings.cache_clear()


def test_a_sign_in_while_the_database_is_away_says_to_try_again_in_a_few_seconds(
    app_without_database: Flask,
) -> None:
    response = app_without_database.test_client().post(
        "/sign-in", data={"email": "intervenante@example.org", "password": "un mot de passe"}
    )

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert "Maillage est momentanément indisponible" in response.text
    assert "Réessayez dans quelques secondes" in response.text
    assert "OperationalError" not in response.text
    assert "intervenante@example.org" not in response.text


def test_an_api_call_while_the_database_is_away_is_a_503_problem_with_retry_after(
    app_without_database: Flask,
) -> None:
    response = app_without_database.test_client().get(
        "/api/v1/referrals", headers={"Authorization": "Bearer mlg_" + "a" * 40}
    )

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["type"].endswith("#problem-unavailable")
    assert problem["title"] == "Maillage est momentanément indisponible"
