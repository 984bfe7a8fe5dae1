"""The reference lap-timer client (drive_agent.laptimer) against a live test server: crossings become
laps; while the server is down they wait in the on-disk queue, and once it is back every one arrives
exactly once (a retry after a lost answer makes no second lap)."""

import http.server
import os
import subprocess
import sys
import threading
import urllib.request

import pytest

from drive_agent import laptimer
from webapp.leagues import race
from webapp.leagues.models import Crossing, Event, LapResult
from webapp.leagues.services import make_organiser

S = 1_000_000


@pytest.fixture
def timed_event(transactional_db, make_league, make_event, make_user, team_a):
    league = make_league()
    organiser = make_user("org")
    make_organiser(organiser, league)
    event = make_event(league, kind=Event.Kind.PHYSICAL)
    event.registrations.create(team=team_a)
    device, token = race.issue_device(user=organiser, event=event, name="Finish line")
    attempt = race.create_attempt(user=organiser, event=event, team=team_a)
    race.start(user=organiser, attempt=attempt, expected_version=attempt.version)
    return device, token


class FlakyProxy:
    """A proxy in front of the live server on a fixed port: `up`, `down` (nothing listens: connection
    refused) or `lose_answers` (forwards the request, then hangs up without the server's answer)."""

    def __init__(self, upstream: str):
        self.upstream = upstream.rstrip("/")
        self.mode = "up"
        self.server: http.server.ThreadingHTTPServer | None = None
        self.port = 0
        self.forwarded = 0

    def start(self) -> None:
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                request = urllib.request.Request(proxy.upstream + self.path, data=body, method="POST", headers={
                    "Content-Type": "application/json", "Authorization": self.headers.get("Authorization", "")})
                try:
                    with urllib.request.urlopen(request, timeout=10) as response:
                        status, payload = response.status, response.read()
                except urllib.error.HTTPError as exc:
                    status, payload = exc.code, exc.read()
                proxy.forwarded += 1
                if proxy.mode == "lose_answers":
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.mode = "up"

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        self.mode = "down"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def lap_times():
    return list(LapResult.objects.order_by("lap_number").values_list("lap_time_s", flat=True))


def test_crossings_reach_the_server_as_laps(live_server, timed_event, tmp_path):
    _, token = timed_event
    answers = []
    timer = laptimer.LapTimer(laptimer.Sender(live_server.url, token), laptimer.DiskQueue(tmp_path / "q.jsonl"),
                              "beam", on_answer=lambda crossing, answer: answers.append(answer))
    for seconds in (100.0, 107.61, 115.0):
        timer.record(int(seconds * S))
    assert timer.flush()
    assert lap_times() == [7.61, 7.39]
    assert [a["status"] for a in answers] == ["counted"] * 3
    assert answers[1]["lap"]["lap_number"] == 1


def test_a_server_down_for_a_while_loses_nothing_and_duplicates_nothing(live_server, timed_event, tmp_path):
    _, token = timed_event
    proxy = FlakyProxy(live_server.url)
    proxy.start()
    queue_path = tmp_path / "q.jsonl"
    timer = laptimer.LapTimer(laptimer.Sender(proxy.url, token, timeout_s=3), laptimer.DiskQueue(queue_path),
                              "beam", backoff_initial_s=0.05, backoff_max_s=0.2)
    timer.record(100 * S)
    assert timer.flush()

    proxy.stop()  # the network drops: three laps are driven meanwhile
    for seconds in (108.0, 116.0, 124.0):
        timer.record(int(seconds * S))
    with pytest.raises(laptimer.TransientError):
        timer.flush()
    assert len(queue_path.read_text().splitlines()) == 3  # on disk, in order
    assert not LapResult.objects.exists()

    # A process restart keeps the queue: a new client on the same file sends it.
    proxy.start()
    proxy.mode = "lose_answers"  # the first answers get lost: the client must retry
    restarted = laptimer.LapTimer(laptimer.Sender(proxy.url, token, timeout_s=3), laptimer.DiskQueue(queue_path),
                                  "beam", backoff_initial_s=0.05, backoff_max_s=0.2)
    with pytest.raises(laptimer.TransientError):
        restarted.flush()
    assert proxy.forwarded >= 2 and len(lap_times()) == 1  # the server got the first one; the client does not know
    proxy.mode = "up"
    assert restarted.drain(timeout_s=10)
    assert lap_times() == [8.0, 8.0, 8.0]
    assert Crossing.objects.count() == 4
    assert queue_path.read_text() == ""
    proxy.stop()


def test_a_revoked_token_stops_the_sender_and_keeps_the_queue(live_server, timed_event, tmp_path):
    device, token = timed_event
    device.active = False
    device.save()
    timer = laptimer.LapTimer(laptimer.Sender(live_server.url, token), laptimer.DiskQueue(tmp_path / "q.jsonl"))
    timer.record()
    with pytest.raises(laptimer.RefusedError):
        timer.flush()
    timer.run_sender()  # returns: a refused token stops the loop
    assert len(timer.queue) == 1


def test_the_command_line_posts_piped_keyboard_crossings(live_server, timed_event, tmp_path):
    device, token = timed_event
    env = {**os.environ, "PITLANE_DEVICE_TOKEN": token}
    result = subprocess.run(
        [sys.executable, "-m", "drive_agent.laptimer", "--server", live_server.url, "--source", "keyboard",
         "--queue", str(tmp_path / "q.jsonl"), "--drain-timeout", "20"],
        input="100000000\n107610000\n115000000\n", capture_output=True, text=True, timeout=60, env=env,
    )
    assert result.returncode == 0, result.stderr
    assert lap_times() == [7.61, 7.39]
    assert result.stdout.count(" lap ") == 2
    assert set(Crossing.objects.values_list("sensor", flat=True)) == {"keyboard"}



def _next_within(iterator, seconds):
    """next(iterator), failing instead of hanging when nothing comes."""
    got = []
    reader = threading.Thread(target=lambda: got.append(next(iterator)), daemon=True)
    reader.start()
    reader.join(seconds)
    assert got, f"nothing read within {seconds} s"
    return got[0]


def test_the_serial_source_reads_a_line_per_crossing_from_a_tty():
    """A pseudo-terminal stands in for /dev/ttyUSB0: an integer line is the sensor's own µs clock, any
    other line is stamped on arrival."""
    pytest.importorskip("serial")
    controller, port = os.openpty()
    crossings = laptimer.serial_source(os.ttyname(port), 115200)
    # The port is opened (and its input flushed) on the first read: write once it waits.
    threading.Timer(0.5, os.write, (controller, b"100000000\r\n")).start()
    assert _next_within(crossings, 10) == 100_000_000
    before = laptimer.device_time_us()
    os.write(controller, b"BEAM\r\n")
    assert _next_within(crossings, 10) >= before
    os.close(controller)
    os.close(port)


def test_the_gpio_source_says_clearly_when_no_gpio_library_is_there(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_gpio(name, *args, **kwargs):
        if name in ("gpiozero", "RPi"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_gpio)
    with pytest.raises(SystemExit, match="neither gpiozero nor RPi.GPIO"):
        next(laptimer.gpio_source(17, threading.Event()))
    with pytest.raises(SystemExit, match="Unknown source"):
        laptimer.open_source("gpio:seventeen", threading.Event())
