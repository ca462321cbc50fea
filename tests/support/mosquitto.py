"""Run Debian's real mosquitto for tests: free loopback port, temp config, TLS+ACL variant."""

from __future__ import annotations

import getpass
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class TlsFiles:
    ca: Path
    server_cert: Path
    server_key: Path


class Mosquitto:
    def __init__(
        self,
        workdir: Path,
        *,
        tls: TlsFiles | None = None,
        acl: Path | None = None,
        port: int | None = None,
        persistence: bool = True,
        autosave_interval_s: int | None = None,
    ) -> None:
        self.workdir = workdir
        self.tls = tls
        self.acl = acl
        self.port = port or free_port()
        self.persistence = persistence
        # None: mosquitto's default (it writes its store every 30 min and at a clean exit, so
        # a SIGKILL loses everything since); small values put sessions and queues on disk.
        self.autosave_interval_s = autosave_interval_s
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = workdir / "mosquitto.log"

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://127.0.0.1:{self.port}"

    def _write_config(self) -> Path:
        lines = [
            f"listener {self.port} 127.0.0.1",
            f"user {getpass.getuser()}",
            "max_queued_messages 1000000",
            "max_inflight_messages 0",
            "persistent_client_expiration 1d",
            f"log_dest file {self.log}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
        ]
        if self.persistence:
            lines += ["persistence true", f"persistence_location {self.workdir}/"]
            if self.autosave_interval_s is not None:
                lines.append(f"autosave_interval {self.autosave_interval_s}")
        if self.tls:
            lines += [
                f"cafile {self.tls.ca}",
                f"certfile {self.tls.server_cert}",
                f"keyfile {self.tls.server_key}",
                "require_certificate true",
                "use_identity_as_username true",
            ]
        else:
            lines.append("allow_anonymous true")
        if self.acl:
            lines.append(f"acl_file {self.acl}")
        path = self.workdir / "mosquitto.conf"
        path.write_text("\n".join(lines) + "\n")
        return path

    def start(self) -> None:
        conf = self._write_config()
        self.proc = subprocess.Popen(
            [MOSQUITTO, "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                log = self.log.read_text() if self.log.exists() else ""
                raise RuntimeError(f"mosquitto exited {self.proc.returncode}: {err} {log}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("mosquitto did not start listening within 10 s")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stderr:
            self.proc.stderr.close()
        self.proc = None

    def kill(self) -> None:
        """SIGKILL, as a crash or power cut does: what was only in memory is gone."""
        if self.proc is None:
            return
        self.proc.kill()
        self.proc.wait()
        if self.proc.stderr:
            self.proc.stderr.close()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()
