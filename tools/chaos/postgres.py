"""A throw-away PostgreSQL server for the audit store of a chaos row, and its restart.

Started and removed with ``.ci/postgres start|stop`` (the CI's own script), in a directory and on a port of
this run's own (``CRX_CI_PG_DIR``, ``CRX_CI_PG_PORT``), so a server the machine or another test run uses is
never touched; run as root, the server runs as ``postgres``. The harness does not install PostgreSQL:
without server binaries (``.ci/postgres start`` installs them, as root) ``unavailable()`` says why and the
row is skipped. Each row gets a fresh schema and an application role that may only SELECT and INSERT, as in
production (``services/audit/postgres_roles.sql``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from services.audit.postgres_store import grant_writer, install
from services.devstack.embedded_broker import free_port

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / ".ci" / "postgres"


def _pg_bin() -> Path | None:
    """The newest Debian PostgreSQL server binaries (what .ci/postgres uses), or None."""
    found = Path("/usr/lib/postgresql").glob("*/bin")
    return max(found, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0, default=None)


@dataclass(frozen=True)
class AuditSchema:
    """One row's audit log in the server: its schema and its application role's URI."""

    schema: str
    dsn: str


class PostgresServer:
    """A PostgreSQL cluster of this run's own; ``start`` once, ``restart`` as the fault, ``stop`` at the end."""

    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="crx-chaos-pg-"))
        self.port = free_port()
        self.admin_dsn: str | None = None

    def _environ(self) -> dict[str, str]:
        return {**os.environ, "CRX_CI_PG_DIR": str(self.directory), "CRX_CI_PG_PORT": str(self.port)}

    @staticmethod
    def unavailable() -> str | None:
        """Why no server can be started here, or None."""
        if _pg_bin() is None:
            return "no PostgreSQL server binaries (`.ci/postgres start` installs them from Debian's packages, as root)"
        return None

    def start(self) -> str:
        """Start the server (``.ci/postgres start``); returns the superuser DSN. Raises RuntimeError."""
        done = subprocess.run(  # noqa: S603 - this repository's script
            [str(SCRIPT), "start"], env=self._environ(), capture_output=True, text=True, timeout=300, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f".ci/postgres start failed: {done.stderr.strip()[-800:]}")
        self.admin_dsn = done.stdout.strip().splitlines()[-1]
        return self.admin_dsn

    def schema(self) -> AuditSchema:
        """A fresh schema with the audit tables and an application role (SELECT and INSERT only)."""
        assert self.admin_dsn is not None, "start() first"
        suffix = uuid.uuid4().hex[:10]
        schema, role = f"crx_chaos_{suffix}", f"crx_chaos_app_{suffix}"
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
            install(conn, schema)
            grant_writer(conn, role, schema)
        return AuditSchema(schema, f"postgresql://{role}@127.0.0.1:{self.port}/test")

    def _pg_ctl(self, *args: str) -> None:
        pg_bin = _pg_bin()
        assert pg_bin is not None
        argv = [str(pg_bin / "pg_ctl"), "-D", str(self.directory / "data"), *args]
        if os.geteuid() == 0:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)  # noqa: S603
        if done.returncode != 0:
            raise RuntimeError(f"pg_ctl {args[0]} failed: {done.stderr.strip()[-800:]}")

    def crash(self) -> None:
        """Stop the server the hard way (``pg_ctl stop -m immediate``: no checkpoint, crash recovery on start)."""
        self._pg_ctl("stop", "-m", "immediate", "-w")

    def resume(self) -> None:
        """Start the stopped server again on the same port and directory (waits until it accepts connections)."""
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.directory}"
        self._pg_ctl("start", "-w", "-t", "60", "-l", str(self.directory / "server.log"), "-o", options)

    def stop(self) -> None:
        """Stop and remove the server (``.ci/postgres stop``); never raises."""
        subprocess.run(  # noqa: S603 - this repository's script
            [str(SCRIPT), "stop"], env=self._environ(), capture_output=True, timeout=120, check=False
        )
        shutil.rmtree(self.directory, ignore_errors=True)
