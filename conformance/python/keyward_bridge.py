"""python-fido2 talks to a keyward virtual key through `keyward virtual serve FILE --stdio`.

The bridge carries raw 64-byte CTAPHID reports over the subprocess's stdin/stdout, and
python-fido2's own `CtapHidDevice` does all of the CTAPHID framing (INIT, channels,
continuation packets, keep-alive): nothing here knows CTAP, so every protocol result the
tests see comes from keyward's virtual key as a USB host would see it.
"""

from __future__ import annotations

import os
import select
import subprocess
from pathlib import Path

from fido2.ctap2 import Ctap2
from fido2.hid import CtapHidDevice
from fido2.hid.base import CtapHidConnection, HidDescriptor

PACKET = 64
# Generous: a debug build on a loaded 2-core machine; a hang still fails instead of blocking CI.
READ_TIMEOUT_S = 30.0


def keyward_bin() -> str:
    """The keyward binary under test: $KEYWARD_BIN, else the workspace's debug build."""
    explicit = os.environ.get("KEYWARD_BIN")
    if explicit:
        return explicit
    root = Path(__file__).resolve().parents[2]
    return str(root / "target" / "debug" / "keyward")


def sandbox_env(home: Path) -> dict[str, str]:
    """No KEYWARD_* settings and no real home: the run touches nothing of the machine's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYWARD_")}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        KEYWARD_LEDGER=str(home / "ledger.db"),
        NO_COLOR="1",
    )
    return env


class StdioConnection(CtapHidConnection):
    """One `keyward virtual serve FILE --stdio` process, seen as a HID connection."""

    def __init__(self, key_file: Path, env: dict[str, str]):
        self._stderr_path = key_file.with_suffix(".serve.log")
        self._stderr = open(self._stderr_path, "wb")
        # CONFORMANCE_SERVE_CMD swaps in another authenticator behind the same bridge (the
        # fido_stdio example) to cross-check what these tests expect.
        override = os.environ.get("CONFORMANCE_SERVE_CMD")
        command = [override] if override else [keyward_bin(), "virtual", "serve", str(key_file), "--stdio"]
        self._proc = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
        )

    def _diagnosis(self) -> str:
        self._stderr.flush()
        text = self._stderr_path.read_text(errors="replace").strip()
        code = self._proc.poll()
        state = "running" if code is None else f"exited with {code}"
        return f"keyward virtual serve {state}; stderr: {text or '(empty)'}"

    def write_packet(self, data: bytes) -> None:
        if len(data) != PACKET:
            raise ValueError(f"CTAPHID report must be {PACKET} bytes, got {len(data)}")
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.write(data)
            self._proc.stdin.flush()
        except BrokenPipeError as e:
            raise OSError(f"bridge closed: {self._diagnosis()}") from e

    def read_packet(self) -> bytes:
        assert self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        packet = b""
        while len(packet) < PACKET:
            ready, _, _ = select.select([fd], [], [], READ_TIMEOUT_S)
            if not ready:
                raise TimeoutError(f"no CTAPHID report in {READ_TIMEOUT_S}s: {self._diagnosis()}")
            chunk = os.read(fd, PACKET - len(packet))
            if not chunk:
                raise OSError(f"bridge closed mid-report: {self._diagnosis()}")
            packet += chunk
        return packet

    def close(self) -> None:
        """Close stdin (the key is unplugged) and require a clean exit."""
        if self._proc.stdin and not self._proc.stdin.closed:
            try:
                self._proc.stdin.close()
            except BrokenPipeError:
                pass
        try:
            code = self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
            raise AssertionError("keyward virtual serve did not exit when stdin closed")
        finally:
            if self._proc.stdout:
                self._proc.stdout.close()
            self._stderr.close()
        if code != 0:
            raise AssertionError(f"keyward virtual serve exited with {code}: {self._diagnosis()}")


class VirtualKey:
    """A virtual key file plus the bridge process currently serving it."""

    def __init__(self, directory: Path, profile: str = "ctap21"):
        self.home = directory / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.env = sandbox_env(self.home)
        self.file = directory / "key.json"
        self.keyward("virtual", "create", str(self.file), "--profile", profile)
        self._connection: StdioConnection | None = None
        self.device: CtapHidDevice | None = None

    def keyward(self, *args: str) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [keyward_bin(), *args],
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=60,
        )
        if done.returncode != 0:
            raise AssertionError(
                f"keyward {' '.join(args)} failed ({done.returncode}): "
                f"{done.stderr.decode(errors='replace')}"
            )
        return done

    def connect(self) -> Ctap2:
        """Plug the key into python-fido2's HID layer and return a fresh CTAP2 session."""
        self.disconnect()
        self._connection = StdioConnection(self.file, self.env)
        descriptor = HidDescriptor(
            path=f"keyward-virtual:{self.file}",
            vid=0,
            pid=0,
            report_size_in=PACKET,
            report_size_out=PACKET,
            product_name="keyward virtual key",
            serial_number=None,
        )
        self.device = CtapHidDevice(descriptor, self._connection)
        return Ctap2(self.device)

    def disconnect(self) -> None:
        if self._connection is not None:
            connection, self._connection, self.device = self._connection, None, None
            connection.close()

    def replug(self) -> Ctap2:
        """A power cycle (`keyward virtual replug`), then a new session."""
        self.disconnect()
        self.keyward("virtual", "replug", str(self.file))
        return self.connect()

    def knob(self, *options: str) -> Ctap2:
        """Set a knob (`keyward virtual knob`) while unplugged, then a new session."""
        self.disconnect()
        self.keyward("virtual", "knob", str(self.file), *options)
        return self.connect()
