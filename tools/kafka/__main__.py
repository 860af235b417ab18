"""``python -m tools.kafka``: fetch Apache Kafka, run a KRaft cluster on loopback, or run a command against one.

python -m tools.kafka fetch [--update-lock]
python -m tools.kafka start [--brokers 3] [--secure] [--dir DIR]     # until Ctrl-C
python -m tools.kafka run [--brokers 3] -- COMMAND ...               # CRX_KAFKA_BOOTSTRAP set for COMMAND
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from tools.kafka.cluster import KafkaCluster
from tools.kafka.distribution import KafkaUnavailable, fetch


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the command; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m tools.kafka", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    fetch_cmd = commands.add_parser("fetch", help="fetch and verify the pinned Apache Kafka")
    fetch_cmd.add_argument("--update-lock", action="store_true", help="rewrite jars.sha256 from a fresh fetch")
    for name in ("start", "run"):
        cmd = commands.add_parser(name, help="start a cluster" if name == "start" else "run COMMAND against one")
        cmd.add_argument("--brokers", type=int, default=1, help="nodes (3: replication 3, min.insync.replicas 2)")
        cmd.add_argument("--secure", action="store_true", help="SASL_SSL + ACLs through deploy/kafka's scripts")
        cmd.add_argument("--dir", type=Path, default=None, help="where storage, logs and secrets go")
        if name == "run":
            cmd.add_argument("argv", nargs=argparse.REMAINDER, help="-- COMMAND ARGS...")
    args = parser.parse_args(argv)
    try:
        dist = fetch(update_lock=getattr(args, "update_lock", False))
        if args.command == "fetch":
            print(f"Apache Kafka {dist.version} in {dist.root} (every jar matches jars.sha256)")
            return 0
        workdir = args.dir or Path(tempfile.mkdtemp(prefix="crx-kafka-"))
        with KafkaCluster(dist, workdir, brokers=args.brokers, secure=args.secure) as cluster:
            print(f"Apache Kafka {dist.version}: {args.brokers} broker(s) ready in {cluster.started_seconds:.1f} s",
                  file=sys.stderr)  # fmt: skip
            if args.command == "run":
                command = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
                return _run(command, os.environ | {"CRX_KAFKA_BOOTSTRAP": cluster.bootstrap})
            _describe(cluster)
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # SystemExit stops the cluster on the way out
            with contextlib.suppress(KeyboardInterrupt):
                signal.pause()
            return 0
    except KafkaUnavailable as exc:
        print(f"kafka: {exc}", file=sys.stderr)
        return 1


def _run(command: list[str], env: dict[str, str]) -> int:
    """Run ``command`` to its end. Ctrl-C goes to it alone (the brokers run in their own session), and the
    cluster is stopped only once the command has drained and exited."""
    process = subprocess.Popen(command, env=env, preexec_fn=_default_sigint)  # noqa: S603 - the user's command
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        return process.wait()
    finally:
        signal.signal(signal.SIGINT, previous)


def _default_sigint() -> None:  # pragma: no cover - runs in the child between fork and exec
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _describe(cluster: KafkaCluster) -> None:
    print(f"bootstrap: {cluster.bootstrap}")
    print(f"logs and storage: {cluster.workdir}")
    if cluster.secure:
        env_file = cluster.workdir / "admin.env"
        env_file.write_text(
            "".join(
                f"export {k}={shlex.quote(v)}\n"
                for k, v in cluster.principal("admin").environ(cluster.bootstrap).items()
            ),
            encoding="utf-8",
        )
        env_file.chmod(0o600)
        print(f"admin credentials (source it): {env_file}; every user's password: {cluster.workdir / 'passwords'}")
        passwords = cluster.workdir / "passwords"
        passwords.write_text("".join(f"{u} {p}\n" for u, p in cluster.passwords.items()), encoding="utf-8")
        passwords.chmod(0o600)
    print("Ctrl-C stops the cluster", flush=True)


if __name__ == "__main__":
    sys.exit(main())
