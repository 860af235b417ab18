"""The crx processes of a chaos row: each service (``crx <service> run``) and each partner client
(``crx partner consume``) as its own process, with its ops port, its log file, and the signals a fault sends.

A process the harness did not signal and that ends anyway is recorded as an unexpected exit (a row with one is
not exact). Restarts keep the ops port and the environment, as a supervisor (systemd, Kubernetes) would.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

from services.devstack.embedded_broker import free_port
from tools.chaos.parties import CRX, ChaosError

STOP_SECONDS = 30.0
KILLED = -9  # what ``stop`` returns for a process that had to be killed


def http_status(url: str, timeout: float = 2.0) -> int:
    """The HTTP status of GET ``url`` (0 when nothing answers)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - loopback URLs built here
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 0


class CrxProcess:
    """One ``crx`` process: ``argv`` (without ``--metrics-port``), run with ``env``, logging to ``log``."""

    def __init__(self, name: str, argv: Sequence[str], env: Mapping[str, str], log: Path) -> None:
        self.name = name
        self.argv = [CRX, *argv]
        self.env = dict(env)
        self.log = log
        self.ops_port = free_port()
        self.unexpected_exits: list[int] = []
        self.restarts = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._signalled = False
        self._terminated = False

    @property
    def pid(self) -> int:
        """The running process id. Raises ChaosError when it is not running."""
        if self._proc is None or self._proc.poll() is not None:
            raise ChaosError(f"{self.name} is not running")
        return self._proc.pid

    @property
    def ops_url(self) -> str:
        """Base URL of its /healthz, /readyz, /metrics."""
        return f"http://127.0.0.1:{self.ops_port}"

    def start(self) -> None:
        """Start the process (its output appended to its log file)."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self._proc = subprocess.Popen(  # noqa: S603 - the crx of this venv, arguments built here
                [*self.argv, "--metrics-port", str(self.ops_port)],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self._signalled = self._terminated = False

    def check(self) -> None:
        """Record an exit nobody asked for (its return code) and forget the process."""
        if self._proc is not None and self._proc.poll() is not None and not self._signalled:
            self.unexpected_exits.append(int(self._proc.returncode))
            self._proc = None

    async def wait_ready(self, within: float = 120.0) -> None:
        """Until /readyz answers 200. Raises ChaosError when the process exits or ``within`` seconds pass."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                raise ChaosError(f"{self.name} exited before it was ready; see {self.log}")
            if await asyncio.to_thread(http_status, f"{self.ops_url}/readyz") == 200:
                return
            await asyncio.sleep(0.25)
        raise ChaosError(f"{self.name} not ready within {within:.0f} s; see {self.log}")

    def send(self, sig: signal.Signals) -> None:
        """Send ``sig`` to the process (the harness's own doing: an exit that follows is expected)."""
        self._signalled = True
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, sig)

    def freeze(self) -> None:
        """SIGSTOP: the process hangs with its connections open (a partition, not an exit)."""
        os.kill(self.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        """SIGCONT after ``freeze``."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGCONT)

    def kill9(self) -> None:
        """SIGKILL, and wait until it is gone."""
        proc = self._proc
        self.send(signal.SIGKILL)
        if proc is not None:
            proc.wait()

    async def restart(self) -> None:
        """Start again after a kill and wait until ready."""
        self.restarts += 1
        self.start()
        await self.wait_ready()

    def healthy(self) -> bool:
        """Running, and both /healthz and /readyz answer 200."""
        self.check()
        if self._proc is None or self._proc.poll() is not None:
            return False
        return all(http_status(f"{self.ops_url}/{probe}") == 200 for probe in ("healthz", "readyz"))

    def terminate(self) -> None:
        """SIGTERM, once (the first half of ``stop``, so that many processes drain at once; a second SIGTERM
        would cut a drain short)."""
        if self._proc is not None and self._proc.poll() is None and not self._terminated:
            self._signalled = self._terminated = True
            self._proc.send_signal(signal.SIGTERM)

    def stop(self, timeout: float = STOP_SECONDS) -> int | None:
        """SIGTERM (unless ``terminate`` sent it) and wait; SIGKILL after ``timeout``. Returns the exit code
        (KILLED when it had to be killed, None when it was not running)."""
        proc = self._proc
        if proc is None:
            return None
        self.terminate()
        self._proc = None
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return KILLED


def service(name: str, env: Mapping[str, str], logs: Path) -> CrxProcess:
    """``crx NAME run`` (intake, normaliser, router, audit)."""
    return CrxProcess(name, [name, "run"], env, logs / f"{name}.log")


def partner(party: str, out_dir: Path, env: Mapping[str, str], logs: Path) -> CrxProcess:
    """``crx partner consume --as PARTY --out OUT_DIR``."""
    argv = ["partner", "consume", "--as", party, "--out", str(out_dir)]
    return CrxProcess(f"partner-{party}", argv, env, logs / f"partner-{party}.log")
