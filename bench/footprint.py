# ruff: noqa: E402 - the import path is corrected before the imports (see HERE)
"""The memory and start-up time of the embedded `maillage run`, measured from outside.

`maillage demo` loads the demo network into a fresh data folder (a temporary
MAILLAGE_DATA_DIR: SQLite, the broker folder and the mailbox), then `maillage
run` starts on a free port in a process group of its own. The report gives:

- the time from starting the command to the first page answering (`/sign-in`);
- the resident memory (RSS) and proportional set size (PSS, shared pages split
  among the processes that share them) of every process of the group, summed,
  read from `/proc/<pid>/smaps_rollup`: right after start, after a first use
  (which lasts until every scheduled job ran once), and after every round of a
  long use compressed in time;
- the slope of the group's PSS over the long use (a least-squares line through
  its second half): flat means no growth.

One round stands for a busy minute of a small network (60 rounds, an hour): each
demo caseworker opens her dashboard, her inbox and referral pages and presses
the first button her referrals offer; one of them opens a new referral (intake,
consent, send) so that the others have work; a coordinator (two-step sign-in)
opens her dashboard. Each action queues emails, which the worker sends into the
mailbox folder; the report counts them. The worker's schedule is compressed
too (`SWEEP_SECONDS`, `PERIODIC_SECONDS`).

Run it with the project's virtualenv, from the repository root:

    .venv/bin/python bench/footprint.py [--rounds N] [--first-use N] [--pause S]

Targets: PSS at most 250 MB after use, and growth over the long use flat (the
fitted line rises by at most 5 MB over the rounds it fits). The exit code is 0
whether the targets are met or missed (this is a measurement); it is non-zero
only when the benchmark cannot run.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This folder holds bench/transitions.py and comes first on the import path:
# drop it, or the engine's `import transitions` imports that script.
HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != HERE]

import argparse
import http.cookiejar
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from dataclasses import field

import pyotp

from service.demo import DEMO_PASSWORD
from service.demo import DEMO_TOTP_SECRET

MAILLAGE = str(Path(sys.executable).with_name("maillage"))
CASEWORKERS = ("ilot", "boussole", "phare", "envol", "balance", "clinique")
COORDINATOR = "coordination.phare@demo.example"
HER = {
    "name": "Fictive Empreinte",
    "phone": "450-555-0199",
    "email": "",
    "language": "",
    "contact_preferences": "",
    "safety_constraints": "",
    "notes": "",
}
SWEEP_SECONDS = 10
PERIODIC_SECONDS = 30
WARM_SECONDS = PERIODIC_SECONDS + 15
PSS_AFTER_USE_TARGET_MB = 250
FLAT_TARGET_MB = 5


@dataclass
class Footprint:
    """The process group's memory at one moment, in MB."""

    rss: float
    pss: float
    processes: list[tuple[int, str, float]] = field(default_factory=list)  # pid, command, PSS


def group_footprint(group: int) -> Footprint:
    """RSS and PSS summed over every process whose process group is `group`."""
    total_rss = total_pss = 0.0
    processes = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # The group is the fifth field, after the command in parentheses (which may hold spaces).
            stat = (entry / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[2]) != group:
                continue
            rollup = (entry / "smaps_rollup").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
            command = command.replace(sys.executable, "python").replace(MAILLAGE, "maillage")
        except (FileNotFoundError, ProcessLookupError):
            continue  # ended meanwhile
        fields = {line.split(":")[0]: int(line.split()[1]) for line in rollup.splitlines()[1:]}
        rss, pss = fields["Rss"] / 1024, fields["Pss"] / 1024
        total_rss += rss
        total_pss += pss
        processes.append((int(entry.name), command, pss))
    return Footprint(total_rss, total_pss, sorted(processes))


class Browser:
    """One person's browser: cookies kept, redirects followed, CSRF tokens read from the pages."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        self.errors = 0

    def get(self, path: str) -> tuple[str, str]:
        return self._open(urllib.request.Request(self.base + path))  # noqa: S310 - our loopback server

    def post(self, path: str, data: dict[str, str | list[str]]) -> tuple[str, str]:
        body = urllib.parse.urlencode(data, doseq=True).encode()
        return self._open(urllib.request.Request(self.base + path, data=body))  # noqa: S310 - loopback

    def _open(self, request: urllib.request.Request) -> tuple[str, str]:
        """The final address and the page; an error answer counts and gives an empty page."""
        try:
            with self.opener.open(request, timeout=60) as response:
                return response.geturl(), response.read().decode()
        except urllib.error.HTTPError as error:
            self.errors += 1
            return request.full_url, error.read().decode(errors="replace")

    def sign_in(self, email: str) -> None:
        _, page = self.get("/sign-in")
        address, page = self.post(
            "/sign-in", {"csrf_token": csrf(page), "email": email, "password": DEMO_PASSWORD}
        )
        if address.endswith("/sign-in/code"):
            self.post("/sign-in/code", {"csrf_token": csrf(page), "code": pyotp.TOTP(DEMO_TOTP_SECRET).now()})


def csrf(page: str) -> str:
    found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    return found.group(1) if found else ""


def hidden_fields(form: str) -> dict[str, str]:
    return dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*type="hidden"[^>]*value="([^"]*)"', form)) | dict(
        re.findall(r'<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"', form)
    )


def act_on_first(browser: Browser, referral_id: str) -> bool:
    """Open a referral's page and press its first button; whether there was one."""
    _, page = browser.get(f"/referrals/{referral_id}")
    forms = re.findall(r'<form[^>]*action="/referrals/\d+/actions"[^>]*>.*?</form>', page, re.S)
    if not forms:
        return False
    browser.post(f"/referrals/{referral_id}/actions", hidden_fields(forms[0]))
    return True


def open_and_send(browser: Browser, number: int) -> None:
    """A caseworker's intake of a new referral: needs, the suggested partner, her consent, send."""
    _, page = browser.get("/referrals/new")
    needs = {"needs": ["shelter_emergency"], "urgency": "standard"}
    _, page = browser.post("/referrals/new", {"csrf_token": csrf(page), "action": "suggest", **needs})
    partner = re.search(r'name="partner" type="radio" value="(\d+)"', page)
    if partner is None:
        return
    her = HER | {"name": f"Fictive Empreinte {number}"}
    address, page = browser.post(
        "/referrals/new",
        {
            "csrf_token": csrf(page),
            "action": "consent",
            "details": "1",
            "partner": partner.group(1),
            **needs,
            **her,
        },
    )
    opened = re.search(r"/referrals/(\d+)", address)
    if opened is None:
        return
    referral_id = opened.group(1)
    _, page = browser.get(f"/referrals/{referral_id}/consent")
    browser.post(
        f"/referrals/{referral_id}/consent",
        {"csrf_token": csrf(page), "method": "verbal", "shared_with": "name and phone", "purpose": "shelter"},
    )
    act_on_first(browser, referral_id)


def use_round(caseworkers: list[Browser], coordinator: Browser, number: int) -> int:
    """One round of use; how many actions were pressed."""
    pressed = 0
    open_and_send(caseworkers[number % len(caseworkers)], number)
    for browser in caseworkers:
        browser.get("/")
        _, inbox = browser.get("/referrals/received")
        referrals = sorted(set(re.findall(r'href="/referrals/(\d+)"', inbox)), key=int, reverse=True)
        for referral_id in referrals[:3]:
            if act_on_first(browser, referral_id):
                pressed += 1
                break
    coordinator.get("/")
    coordinator.get("/referrals/received")
    return pressed


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def first_answer(base: str, started: float, process: subprocess.Popen[bytes]) -> float:
    """Seconds from `started` until `/sign-in` answers."""
    while True:
        if process.poll() is not None:
            raise SystemExit(f"maillage run stopped with code {process.returncode} before answering")
        try:
            with urllib.request.urlopen(base + "/sign-in", timeout=5) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return time.perf_counter() - started
        except (urllib.error.URLError, ConnectionError):
            pass
        time.sleep(0.01)


def worker_ready(log: Path, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    """Wait for the worker's "ready" line: by then its scheduler has started too."""
    deadline = time.monotonic() + timeout
    while b" ready." not in log.read_bytes():
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the worker did not say it was ready; see {log}")
        time.sleep(0.1)
    time.sleep(1)  # its first relay pass and the scheduler's first tick


def slope(values: list[float]) -> float:
    """Least-squares slope of values against their index."""
    n = len(values)
    if n < 2:
        return 0.0
    mean_x, mean_y = (n - 1) / 2, sum(values) / n
    covariance = sum((x - mean_x) * (y - mean_y) for x, y in enumerate(values))
    return covariance / sum((x - mean_x) ** 2 for x in range(n))


def row(figure: str, measured: str, target: str = "", value: float | None = None) -> None:
    """A line of the report; with a target, PASS or MISS (every target here is an upper bound)."""
    limit = float(re.sub(r"[^0-9.]", "", target)) if target else None
    mark = "" if limit is None or value is None else ("PASS" if value <= limit else "MISS")
    print(f"{figure:52} {measured:>16} {target:>16}  {mark}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=60, help="rounds of the long use (default 60)")
    parser.add_argument("--first-use", type=int, default=5, help="rounds before the 'after use' figure")
    parser.add_argument("--pause", type=float, default=1.0, help="seconds between rounds (the worker's turn)")
    parser.add_argument("--keep", action="store_true", help="keep the data folder and print its path")
    options = parser.parse_args(argv)

    data_dir = Path(tempfile.mkdtemp(prefix="maillage-footprint-"))
    environment = {name: value for name, value in os.environ.items() if not name.startswith("MAILLAGE_")}
    environment |= {"MAILLAGE_DATA_DIR": str(data_dir), "MAILLAGE_ENV": "development"}
    # The worker's hour compressed too: the sweep and the periodic jobs (digests, reviews, consent
    # expiry, retention; each does its work once a day whatever the interval) run every few rounds.
    environment |= {
        "MAILLAGE_SWEEP_INTERVAL": str(SWEEP_SECONDS),
        "MAILLAGE_PERIODIC_INTERVAL": str(PERIODIC_SECONDS),
    }
    subprocess.run([MAILLAGE, "demo"], env=environment, check=True, stdout=subprocess.DEVNULL)  # noqa: S603
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = (data_dir / "run.log").open("wb")
    started = time.perf_counter()
    process = subprocess.Popen(  # noqa: S603 - our own command
        [MAILLAGE, "run", "--port", str(port)],
        env=environment,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    try:
        to_first_page = first_answer(base, started, process)
        worker_ready(data_dir / "run.log", process)
        at_start = group_footprint(process.pid)

        caseworkers = [Browser(base) for _ in CASEWORKERS]
        for browser, organization in zip(caseworkers, CASEWORKERS, strict=True):
            browser.sign_in(f"intervenante.{organization}@demo.example")
        coordinator = Browser(base)
        coordinator.sign_in(COORDINATOR)

        pss_per_round: list[float] = []
        pressed = 0
        print("round  PSS MB  RSS MB  actions  emails  PSS MB of each process")

        def one_round(number: int) -> Footprint:
            nonlocal pressed
            pressed += use_round(caseworkers, coordinator, number)
            time.sleep(options.pause)
            now = group_footprint(process.pid)
            emails = len(list((data_dir / "mailbox").glob("**/*.eml")))
            each = "  ".join(f"{pss:6.1f}" for _pid, _command, pss in now.processes)
            print(
                f"{number + 1:5}  {now.pss:6.1f}  {now.rss:6.1f}  {pressed:7}  {emails:6}  {each}", flush=True
            )
            return now

        # The first use lasts until every scheduled job ran once: their first runs load code and
        # compose emails once for all (the worker gains ~8 MB at its first sweep with due referrals).
        number = 0
        after_use = at_start
        while number < options.first_use or time.perf_counter() - started < WARM_SECONDS:
            after_use = one_round(number)
            number += 1
        first_use = number
        print(f"----- after use ({first_use} rounds, {time.perf_counter() - started:.0f} s from start)")
        for number in range(first_use, first_use + options.rounds):
            pss_per_round.append(one_round(number).pss)
        errors = sum(browser.errors for browser in [*caseworkers, coordinator])
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        log.close()
    emails = len(list((data_dir / "mailbox").glob("**/*.eml")))

    steady = pss_per_round[len(pss_per_round) // 2 :]
    per_round = slope(steady)
    growth = per_round * len(steady)
    print()
    for moment, footprint in (("right after start", at_start), ("after use", after_use)):
        print(f"processes of `maillage run` {moment}: {len(footprint.processes)}")
        for pid, command, pss in footprint.processes:
            print(f"  {pid:>7}  {pss:6.1f} MB PSS  {command[:120]}")
    print()
    after = f"after {first_use} rounds of use"
    end = pss_per_round[-1] if pss_per_round else after_use.pss
    target = f"<= {PSS_AFTER_USE_TARGET_MB} MB"
    print(f"{'figure':52} {'measured':>16} {'target':>16}")
    row("start to first page", f"{to_first_page:.2f} s")
    row("right after start: RSS / PSS", f"{at_start.rss:.0f} / {at_start.pss:.0f} MB")
    row(f"{after}: RSS / PSS", f"{after_use.rss:.0f} / {after_use.pss:.0f} MB", target, after_use.pss)
    row(f"after {options.rounds} more rounds: PSS", f"{end:.0f} MB", target, end)
    row(
        f"PSS growth over the last {len(steady)} rounds (fitted)",
        f"{growth:+.1f} MB",
        f"<= {FLAT_TARGET_MB} MB",
        growth,
    )
    print(f"(slope {per_round * 1024:+.0f} kB per round)")
    print(f"actions pressed {pressed}, emails in the mailbox {emails}, error answers {errors}")
    print(f"load average {', '.join(f'{figure:.2f}' for figure in os.getloadavg())}")
    if options.keep:
        print(f"data folder kept: {data_dir}")
    else:
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
