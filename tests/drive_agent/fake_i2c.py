"""A fake I2C bus with a PCA9685 on it, at the register level, for Adafruit's real driver.

It implements the busio.I2C calls the driver makes (try_lock/unlock, writeto,
writeto_then_readfrom, readfrom_into) and the chip's registers: MODE1 (auto-increment bit AI:
without it a multi-byte write lands on one register, as on the chip), PRESCALE (written only
while MODE1's SLEEP bit is set, as on the chip) and LEDn_ON/OFF. Every write that completes a
channel's ON/OFF pair is recorded as a `PwmWrite` (channel, on, off counts, wall time), in memory
and, with `log_path`, as a JSON line, so a test can read what an agent process drove.

`python -m tests.drive_agent.fake_i2c LOG -- ARGS...` runs `drive_agent ARGS...` (the real CLI, in
this process) with this bus in place of /dev/i2c-N.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

MODE1, PRESCALE, LED0 = 0x00, 0xFE, 0x06
SLEEP, AI = 0x10, 0x20


@dataclass(frozen=True)
class PwmWrite:
    channel: int
    on: int
    off: int
    wall: float


class FakeI2C:
    def __init__(self, address: int = 0x40, log_path: str | Path | None = None, fail_writes: int = 0,
                 fail_after: int | None = None) -> None:
        self.address = address
        self.regs = bytearray(256)
        self.regs[PRESCALE] = 0x1E  # the chip's power-on value (200 Hz)
        self.regs[MODE1] = SLEEP
        self.writes: list[PwmWrite] = []
        self.prescale_writes: list[int] = []
        self.deinited = False
        self._lock = threading.Lock()
        self._log = open(log_path, "a", buffering=1) if log_path is not None else None  # noqa: SIM115
        self._fail_writes, self._fail_after, self._transactions = fail_writes, fail_after, 0

    # busio.I2C
    def try_lock(self) -> bool:
        return self._lock.acquire(blocking=False)

    def unlock(self) -> None:
        self._lock.release()

    def scan(self) -> list[int]:
        return [self.address]

    def deinit(self) -> None:
        self.deinited = True
        if self._log is not None:
            self._log.close()
            self._log = None

    def writeto(self, address: int, buffer, *, start: int = 0, end: int | None = None) -> None:
        data = bytes(buffer[start:end])
        self._check(address, bool(data))
        if data:
            self._write(data[0], data[1:])

    def readfrom_into(self, address: int, buffer, *, start: int = 0, end: int | None = None) -> None:
        self._check(address, False)
        end = len(buffer) if end is None else end
        for i in range(start, end):
            buffer[i] = 0

    def writeto_then_readfrom(self, address: int, out_buffer, in_buffer, *, out_start: int = 0,
                              out_end: int | None = None, in_start: int = 0, in_end: int | None = None) -> None:
        self._check(address, False)
        register = bytes(out_buffer[out_start:out_end])[0]
        in_end = len(in_buffer) if in_end is None else in_end
        for i in range(in_end - in_start):
            in_buffer[in_start + i] = self.regs[(register + (i if self.regs[MODE1] & AI else 0)) % 256]

    # the chip
    def _check(self, address: int, is_write: bool) -> None:
        if address != self.address:
            raise OSError(121, "Remote I/O error")  # no ACK: what Linux answers for an absent device
        if is_write:
            self._transactions += 1
            if self._fail_after is not None and self._transactions > self._fail_after and self._fail_writes > 0:
                self._fail_writes -= 1
                raise OSError(5, "Input/output error")

    def _write(self, register: int, payload: bytes) -> None:
        touched = set()
        for i, byte in enumerate(payload):
            reg = (register + (i if self.regs[MODE1] & AI else 0)) % 256
            if reg == PRESCALE:
                if self.regs[MODE1] & SLEEP:  # the chip ignores PRESCALE unless asleep
                    self.regs[reg] = byte
                    self.prescale_writes.append(byte)
                continue
            self.regs[reg] = byte
            if LED0 <= reg < LED0 + 64:
                touched.add((reg - LED0) // 4)
        for channel in sorted(touched):
            base = LED0 + 4 * channel
            on = self.regs[base] | (self.regs[base + 1] << 8)
            off = self.regs[base + 2] | (self.regs[base + 3] << 8)
            record = PwmWrite(channel, on, off, time.time())
            self.writes.append(record)
            if self._log is not None:
                self._log.write(json.dumps(record.__dict__) + "\n")

    @property
    def frequency_hz(self) -> float:
        return 25_000_000 / 4096 / (self.regs[PRESCALE] + 1)

    def pulses(self, channel: int) -> list[int]:
        return [w.off for w in self.writes if w.channel == channel]


def read_log(path: str | Path) -> list[PwmWrite]:
    path = Path(path)
    if not path.exists():
        return []
    return [PwmWrite(**json.loads(line)) for line in path.read_text().splitlines() if line.strip()]


def main(argv: list[str]) -> int:
    """LOG [--fail-after N --fail-writes K] -- DRIVE_AGENT_ARGS...: after N writes, K writes fail
    with EIO (a loose wire)."""
    if "--" not in argv:
        raise SystemExit("usage: python -m tests.drive_agent.fake_i2c LOG [--fail-after N --fail-writes K] -- ARGS")
    split = argv.index("--")
    log_path, *options = argv[:split]
    settings = dict(zip(options[::2], map(int, options[1::2]), strict=True))
    import drive_agent.targets.donkeycar as donkeycar
    from drive_agent.cli import main as drive_agent

    def open_fake_bus(busnum: int) -> FakeI2C:
        return FakeI2C(log_path=log_path, fail_after=settings.get("--fail-after"),
                       fail_writes=settings.get("--fail-writes", 0))

    donkeycar.open_i2c_bus = open_fake_bus
    return drive_agent(argv[split + 1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
