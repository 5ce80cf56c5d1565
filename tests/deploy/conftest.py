"""Maillage's production topology on loopback, from the real programs and no container: Caddy,
gunicorn, `maillage worker` and `maillage beat` started as docker-compose.yml starts them, on a
throwaway database in the machine's PostgreSQL and a key prefix of their own in its Redis.

Each program runs in a process group of its own, as it would on a host of its own: `kill()` ends
it at once (SIGKILL to the whole group: gunicorn's master and workers, Celery's pool), as a
machine that loses power does.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

import pytest
import redis
import yaml
from aiosmtpd.controller import Controller

from tests.conftest import IN_CI
from tests.conftest import new_postgresql_database
from tests.worker.conftest import REDIS_URL
from tests.worker.conftest import Sink
from tests.worker.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
BIN = Path(sys.executable).parent
PR_SET_PDEATHSIG = 1  # prctl(2)
# Long enough for a slow CI machine; each program is up in one to three seconds here.
WAIT = 60.0


@dataclass
class Program:
    """One program of the deployment, running in a process group of its own."""

    name: str
    command: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> Program:
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(  # noqa: S603 - our own programs, fixed arguments
                self.command,
                cwd=ROOT,
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_the_tests,
            )
        return self

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait_for(self, line: str) -> Program:
        """Until its log says `line` (fails, with the log, if it stops first)."""
        deadline = time.monotonic() + WAIT
        while line not in self.output():
            assert self.running(), f"{self.name} stopped:\n{self.output()[-4000:]}"
            assert time.monotonic() < deadline, f"{self.name} never said {line!r}:\n{self.output()[-4000:]}"
            time.sleep(0.1)
        return self

    def kill(self) -> None:
        """SIGKILL to the whole group: nothing finishes, nothing is flushed or acknowledged."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=WAIT)

    def stop(self) -> None:
        if not self.running():
            return
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()
        else:
            # What the group's leader left behind (a pool's child) goes with it.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def die_with_the_tests() -> None:
    """In the child, before it runs the program: SIGKILL when the test process dies, even killed
    (a CI timeout) before its fixtures could stop anything. Its own session keeps it out of the
    tests' process group, so nothing else would end it."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def answers(url: str, *, timeout: float = 5) -> int | None:
    """The HTTP status `url` answers with, or None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - loopback
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def unverified() -> ssl.SSLContext:
    """Caddy's authority is made by the test's own Caddy: the test reads through it unverified."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def compose_command(service: str, changed: dict[str, str]) -> list[str]:
    """docker-compose.yml's command for `service`, its `--name=value` options in `changed` replaced
    (a loopback address, fewer processes on a 2-core machine), its program from this virtualenv."""
    program, *arguments = COMPOSE["services"][service]["command"]
    replaced = []
    for argument in arguments:
        name = argument.split("=", 1)[0]
        replaced.append(f"{name}={changed.pop(name)}" if name in changed else argument)
    assert not changed, f"docker-compose.yml's {service} command has no {', '.join(changed)}"
    return [str(BIN / program), *replaced]


@dataclass
class Deployment:
    """The settings docker-compose.yml gives every Maillage service, and the programs started."""

    folder: Path
    env: dict[str, str]
    programs: list[Program] = field(default_factory=list)

    def _program(self, name: str, command: list[str], **settings: str) -> Program:
        program = Program(name, command, {**self.env, **settings}, self.folder / f"{name}.log")
        self.programs.append(program.start())
        return program

    def web(self, name: str, *, behind_proxy: bool = True) -> tuple[Program, str]:
        """gunicorn as compose runs it (one worker of four threads here); its loopback address."""
        port = free_port()
        metrics = self.folder / f"{name}-metrics"
        metrics.mkdir()
        command = compose_command("web", {"--bind": f"127.0.0.1:{port}", "--workers": "1"})
        settings = {"PROMETHEUS_MULTIPROC_DIR": str(metrics)}
        if behind_proxy:
            settings["MAILLAGE_PROXY_HOPS"] = "1"
        program = self._program(name, command, **settings)
        address = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + WAIT
        while answers(f"{address}/healthz") != 200:
            assert program.running(), f"{name} stopped:\n{program.output()[-4000:]}"
            assert time.monotonic() < deadline, f"{name} did not answer:\n{program.output()[-4000:]}"
            time.sleep(0.2)
        return program, address

    def worker(self, name: str, *, concurrency: int = 2) -> Program:
        """`maillage worker` as compose runs it, named as a host of its own would name it."""
        command = compose_command("worker", {"--concurrency": str(concurrency)})
        command.append(f"--hostname={name}@%h")
        return self._program(name, command).wait_for(" ready.")

    def beat(self, name: str = "beat") -> Program:
        return self._program(name, compose_command("beat", {}))

    def proxy(self, *upstreams: str) -> tuple[Program, str, str]:
        """deploy/Caddyfile served by Debian's Caddy with its own authority (`tls internal`), on
        loopback high ports, in front of these web instances; its HTTPS and HTTP addresses."""
        caddy = shutil.which("caddy")
        if caddy is None:
            if IN_CI:
                pytest.fail("caddy is missing, and CI must serve deploy/Caddyfile (.ci/run installs it)")
            pytest.skip("caddy is missing (apt-get install caddy)")
        https, http = free_port(), free_port()
        settings = {
            "PATH": os.environ["PATH"],
            # Caddy's certificates and authority in the test's folder, never the machine's.
            "HOME": str(self.folder),
            "XDG_DATA_HOME": str(self.folder / "caddy-data"),
            "XDG_CONFIG_HOME": str(self.folder / "caddy-config"),
            "MAILLAGE_DOMAIN": "127.0.0.1",
            "MAILLAGE_TLS": "internal",
            "MAILLAGE_LISTEN": "loopback",
            "MAILLAGE_HTTP_PORT": str(http),
            "MAILLAGE_HTTPS_PORT": str(https),
            "MAILLAGE_UPSTREAM": " ".join(upstream.removeprefix("http://") for upstream in upstreams),
            "MAILLAGE_CADDY_ADMIN": "off",
        }
        command = [caddy, "run", "--adapter", "caddyfile", "--config", str(ROOT / "deploy" / "Caddyfile")]
        program = Program("caddy", command, settings, self.folder / "caddy.log")
        self.programs.append(program.start())
        program.wait_for('"msg":"serving initial configuration"')
        return program, f"https://127.0.0.1:{https}", f"http://127.0.0.1:{http}"

    def stop(self) -> None:
        for program in reversed(self.programs):
            program.stop()


@pytest.fixture
def sink() -> Iterator[Sink]:
    """The mail server on loopback (aiosmtpd) every worker sends to."""
    sink = Sink(port=free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    yield sink
    controller.stop()


@pytest.fixture
def database_url() -> Iterator[str]:
    """A throwaway database in the machine's PostgreSQL, migrated (compose's `migrate`), dropped after."""
    with new_postgresql_database() as url:
        yield url


@pytest.fixture
def key_prefix() -> Iterator[str]:
    """Everything the deployment writes in the machine's Redis (queue, beat's lock and schedule,
    rate-limit counters) under a prefix of its own, deleted afterwards."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        client.close()
        if IN_CI:
            pytest.fail(f"Redis at {REDIS_URL} is not reachable, and CI must test against it")
        pytest.skip(f"Redis at {REDIS_URL} is not reachable")
    prefix = f"maillage-deploy-{uuid.uuid4().hex[:10]}"
    yield prefix
    keys = list(client.scan_iter(match=f"{prefix}:*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def deployment(database_url: str, key_prefix: str, sink: Sink, tmp_path: Path) -> Iterator[Deployment]:
    """No program started yet: the test starts the ones it needs (and may kill some)."""
    if not (BIN / "gunicorn").exists():
        pytest.fail("gunicorn is missing: it is in the dev dependencies (pip install -e '.[dev]')")
    env = {key: value for key, value in os.environ.items() if not key.startswith("MAILLAGE_")}
    env.update(
        # What docker-compose.yml sets for every Maillage service.
        MAILLAGE_ENV="production",
        MAILLAGE_SECRET_KEY=f"a-test-secret-key-{uuid.uuid4().hex}",
        MAILLAGE_TOTP_ENCRYPTION_KEY=os.environ["MAILLAGE_TOTP_ENCRYPTION_KEY"],
        MAILLAGE_BASE_URL="https://maillage.example.org",
        MAILLAGE_DATABASE_URL=database_url,
        MAILLAGE_BROKER_URL=REDIS_URL,
        MAILLAGE_SMTP_URL=sink.url,
        MAILLAGE_MAIL_FROM="Maillage <maillage@example.org>",
        MAILLAGE_DATA_DIR=str(tmp_path / "data"),
        # This test's own queue and keys in the shared Redis (the rate limits' storage follows).
        MAILLAGE_QUEUE=key_prefix,
        MAILLAGE_BROKER_KEY_PREFIX=f"{key_prefix}:",
        # Time, shortened: beat's relay and sweep every second, and a message a killed worker
        # held comes back to the relay after 5 s instead of 2 minutes.
        MAILLAGE_RELAY_INTERVAL="1",
        MAILLAGE_SWEEP_INTERVAL="1",
        MAILLAGE_PERIODIC_INTERVAL="0",
        MAILLAGE_OUTBOX_LEASE_SECONDS="5",
        PYTHONUNBUFFERED="1",
    )
    deployment = Deployment(folder=tmp_path, env=env)
    yield deployment
    deployment.stop()
