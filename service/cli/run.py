"""`maillage run`: Maillage on the embedded default, in one command.

The web app, served by waitress after the database is brought up to date,
and beside it a worker with its scheduler (one process, the scheduler a thread
of it: `celery worker --beat-thread`, see `worker.app.BeatInThread`), on the
embedded broker and mailbox unless MAILLAGE_BROKER_URL and MAILLAGE_SMTP_URL
say otherwise. `Embedded` stops the worker when the server stops (Ctrl+C or
SIGTERM).
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
from dataclasses import dataclass
from dataclasses import field

import click
from flask import Flask
from waitress import create_server
from waitress import wasyncore
from waitress.server import BaseWSGIServer
from waitress.server import MultiSocketServer

from service.app import create_app
from service.cli.db import upgrade
from service.cli.language import Command
from service.cli.language import Option
from service.cli.language import _
from service.cli.language import _l
from service.cli.worker import start_worker_process
from service.config import settings

ALL_INTERFACES = ("0.0.0.0", "::", "")  # noqa: S104 - names we recognize, not a bind


@dataclass
class Embedded:
    """What `maillage run` serves: the web server, and the companion processes started beside it."""

    app: Flask
    server: BaseWSGIServer | MultiSocketServer
    companions: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def address(self) -> str:
        host = getattr(self.server, "effective_host", "127.0.0.1")
        port = getattr(self.server, "effective_port", 0)
        shown = "127.0.0.1" if host in ALL_INTERFACES else host
        shown = f"[{shown}]" if ":" in shown else shown
        return f"http://{shown}:{port}/"

    def serve(self) -> None:
        """Serve until Ctrl+C or SIGTERM, then stop the companions."""
        signal.signal(signal.SIGTERM, _interrupt)
        try:
            self.server.run()
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def stop(self) -> None:
        """Finish the requests in hand, close every socket, stop the companions."""
        self.server.task_dispatcher.shutdown()
        # The listening socket, the open connections and the wake-up pipe all live in this map.
        sockets = getattr(self.server, "map", None) or self.server._map
        wasyncore.close_all(sockets)
        for process in self.companions:
            process.terminate()
        for process in self.companions:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                # A worker stuck in a slow SMTP exchange: the outbox loses nothing if it is killed.
                process.kill()
                process.wait()


def _interrupt(_signal: int, _frame: object) -> None:
    # A stop from a service manager ends the server as Ctrl+C does, so the companions stop too.
    raise KeyboardInterrupt


def embedded(host: str, port: int, *, threads: int = 8) -> Embedded:
    """The app and a bound (not yet serving) waitress server; raises ClickException when it cannot."""
    try:
        app = create_app()
    except RuntimeError as error:
        raise click.ClickException(str(error)) from None
    try:
        # Asked first on a socket of our own: waitress leaves its own open when binding fails.
        _check_free(host, port)
        server = create_server(app, host=host, port=port, threads=threads, ident="Maillage")
    except OSError as error:
        raise click.ClickException(
            _(
                "cannot listen on %(host)s:%(port)s (%(error)s); choose another with --port",
                host=host,
                port=port,
                error=error.strerror or error,
            )
        ) from None
    return Embedded(app=app, server=server)


# glibc's mallopt() parameter for the most malloc arenas a process keeps (malloc.h).
M_ARENA_MAX = -8
MALLOC_ARENAS = 2


def fewer_malloc_arenas() -> None:
    """Cap the process's malloc arenas at two, as MALLOC_ARENA_MAX=2 would, before any thread starts.

    glibc gives threads arenas of their own (up to eight per core), each keeping the memory freed
    in it: waitress's eight threads held about 14 MB (PSS) more than two shared arenas do
    (bench/footprint.py). Not glibc (musl, macOS): nothing to do.
    The worker, started later, inherits the variable (glibc reads it when a process starts).
    """
    os.environ.setdefault("MALLOC_ARENA_MAX", str(MALLOC_ARENAS))
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    libc.mallopt(M_ARENA_MAX, MALLOC_ARENAS)


def _check_free(host: str, port: int) -> None:
    for family, kind, protocol, _name, address in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        with socket.socket(family, kind, protocol) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)


@click.command(
    cls=Command,
    help=_l(
        "Start Maillage on the embedded default (SQLite in MAILLAGE_DATA_DIR) and print its address. "
        "The web server, a worker and its scheduler (emails, reminders, escalations) run together; "
        "Ctrl+C stops them all."
    ),
)
@click.option("--host", cls=Option, default="127.0.0.1", show_default=True, help=_l("Address to listen on."))
@click.option(
    "--port", cls=Option, default=5000, show_default=True, type=click.IntRange(0, 65535), help=_l("Port.")
)
@click.option(
    "--worker/--no-worker",
    "with_worker",
    cls=Option,
    default=True,
    show_default=True,
    help=_l("Start the worker and its scheduler beside the web server."),
)
@click.pass_context
def run(ctx: click.Context, host: str, port: int, with_worker: bool) -> None:
    # A laptop has no HTTPS and no secret key to hand: development mode unless told otherwise.
    os.environ.setdefault("MAILLAGE_ENV", "development")
    settings.cache_clear()
    fewer_malloc_arenas()
    ctx.invoke(upgrade)
    maillage = embedded(host, port)
    if not os.environ.get("MAILLAGE_BASE_URL"):
        # Links in emails lead where this server answers: the web app reads the settings, and the
        # worker, a process of its own started below, inherits the variable.
        os.environ["MAILLAGE_BASE_URL"] = maillage.address.rstrip("/")
        settings.cache_clear()
        maillage.app.config["PUBLIC_BASE_URL"] = settings().base_url
    if with_worker:
        maillage.companions.append(start_worker_process(beat=True))
    click.echo(_("Maillage is running at %(address)s (Ctrl+C stops it).", address=maillage.address))
    maillage.serve()
    click.echo(_("Maillage stopped."))
