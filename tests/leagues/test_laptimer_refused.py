"""drive_agent.laptimer with a token the server refuses (revoked, or wrong): draining the queue at the
end of a run used to let RefusedError escape (a traceback from `python -m drive_agent.laptimer`);
it now stops at once, says so, keeps every crossing queued and the command exits 1."""

import logging

from drive_agent import laptimer


class RefusingSender:
    def __init__(self):
        self.posts = 0

    def post(self, crossing):
        self.posts += 1
        raise laptimer.RefusedError('401: {"detail":"Invalid or revoked timer device token."}')


def test_drain_with_a_refused_token_keeps_the_queue_and_returns_false(tmp_path, caplog):
    sender = RefusingSender()
    timer = laptimer.LapTimer(sender, laptimer.DiskQueue(tmp_path / "q.jsonl"), backoff_initial_s=0.01)
    timer.record(at_us=1_000)
    timer.record(at_us=2_000)
    with caplog.at_level(logging.ERROR, logger="drive_agent.laptimer"):
        assert timer.drain(timeout_s=5) is False
    assert sender.posts == 1  # no retry loop against a refused token
    assert [c.device_time_us for c in timer.queue.pending()] == [1_000, 2_000]
    assert "refused this device's token" in caplog.text


def test_the_command_exits_1_without_a_traceback_when_the_token_is_refused(tmp_path, monkeypatch):
    refusing = RefusingSender()
    monkeypatch.setattr(laptimer.Sender, "post", lambda self, crossing: refusing.post(crossing))
    queue = tmp_path / "q.jsonl"
    tmp_path.joinpath("in.txt").write_text("100000000\n107610000\n")
    monkeypatch.setattr("sys.stdin", (tmp_path / "in.txt").open())
    code = laptimer.main(["--server", "http://127.0.0.1:9", "--token", "pld_revoked", "--source", "keyboard",
                          "--queue", str(queue), "--drain-timeout", "5"])
    assert code == 1
    assert len(laptimer.DiskQueue(queue)) == 2


def test_a_queue_left_under_one_token_is_never_sent_under_another(tmp_path, monkeypatch):
    """A laptimer whose queue still held event A's crossings (server down) and is then started with event
    B's token must not post them as B's crossings (they would become laps of B's team on track); they
    wait for A's token."""
    monkeypatch.setenv("HOME", str(tmp_path))
    posted: list[tuple[str, int]] = []
    down = {"value": True}

    def post(self, crossing):
        if down["value"]:
            raise laptimer.TransientError("connection refused")
        posted.append((self.token, crossing.device_time_us))
        return {"crossing_id": crossing.crossing_id, "status": "counted"}

    monkeypatch.setattr(laptimer.Sender, "post", post)

    def run(token: str, lines: str) -> int:
        (tmp_path / "in.txt").write_text(lines)
        monkeypatch.setattr("sys.stdin", (tmp_path / "in.txt").open())
        return laptimer.main(["--server", "http://pitlane.test", "--token", token, "--source", "keyboard",
                              "--drain-timeout", "0.2"])

    assert run("pld_event_a", "100000000\n") == 1  # server down: A's crossing stays queued
    down["value"] = False
    assert run("pld_event_b", "") == 0
    assert posted == []  # nothing of A's went out under B's token
    assert run("pld_event_a", "") == 0
    assert posted == [("pld_event_a", 100_000_000)]
    assert laptimer.default_queue_path("http://pitlane.test/", "pld_event_a") == \
        laptimer.default_queue_path("http://pitlane.test", "pld_event_a")
    assert "pld_event_a" not in laptimer.default_queue_path("http://pitlane.test", "pld_event_a").name
