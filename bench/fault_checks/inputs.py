"""Hostile dataset content and training settings against a real Celery worker + Redis: what one
upload costs the worker, and whether the real rows survive it.

Self-contained: an embedded Redis, a temporary var directory with a migrated SQLite database (one
team), one Celery worker subprocess (prefork, one child, the evaluation queue that ingests
datasets) and one driver subprocess that submits the uploads through `services.accept_upload`,
waits for each ingest job and reads the worker child's peak RSS (VmHWM) from /proc; no network
traffic beyond 127.0.0.1; everything is stopped and removed at the end.

  ingest_rss_growth_mb_huge_jpeg  growth of the worker child's peak RSS from ingesting REAL_ROWS
                                  real 320x160 rows in which one centre frame is a real
                                  13000x13000 RGB JPEG (the outside test saw ~700 MB; target: a
                                  few MB, the frame is judged by its header and never decoded)
  huge_jpeg_real_frames_kept      frames kept of the REAL_ROWS - 2 real rows that are good (line 1
                                  has 160x80 frames, line 4 the huge one; target: all of them)
  huge_jpeg_skipped_as            the kinds the report gives lines 1 and 4
  huge_line_ingest_ok             a driving_log.csv with a HUGE_LINE_MB MB single line among the
                                  real rows ingests (the csv module's 128 KB field limit used to
                                  reject the whole upload); huge_line_frames_kept,
                                  huge_line_reported_as, huge_line_ingest_s,
                                  ingest_rss_growth_mb_huge_line (peak RSS growth for it)
  oversized_configs_accepted      of epochs=1000000, head_dense_units=1000000 and
                                  representative_samples=10000000, how many start_training took
                                  (target 0)
  job_error_has_class_name        whether a rejected upload's job error names a Python class
                                  (target false)

`python bench/fault_checks/inputs.py` prints `RESULT {json}`.
"""

from __future__ import annotations

import io
import json
import os
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT))

from bench.fault_checks.stack import BenchStack, tagged_json  # noqa: E402  (after the path fix above)

REAL_SAMPLE = ROOT.parent / "shared" / "data" / "udacity" / "real_sample"
REAL_ROWS = 60
HUGE_SIDE = 13000
HUGE_LINE_MB = 50
JOB_TIMEOUT_S = 120

# The driver runs in a subprocess with Django set up against the bench's var directory (the bench
# process itself stays free of Django settings, so bench/faults.py can run every part in one process).
_DRIVER = r"""
import json, sys, time
import django
django.setup()
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files import File
from webapp.accounts.models import Membership, Team
from webapp.datasets import services
from webapp.datasets.models import Dataset
from training.bc.config import ConfigError, TrainConfig
from webapp.garage import services as garage

worker_pid, timeout_s, zips = int(sys.argv[1]), float(sys.argv[2]), json.loads(sys.argv[3])
user = get_user_model().objects.create_user("bench", "bench@example.com", "bench-password-1")
team = Team.objects.create(name="Bench team")
Membership.objects.create(team=team, user=user, role=Membership.Role.CAPTAIN)


def child_peak_kb():
    children = open(f"/proc/{worker_pid}/task/{worker_pid}/children").read().split()
    if len(children) != 1:
        raise RuntimeError(f"expected one worker child, found {children}")
    for line in open(f"/proc/{children[0]}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM")


def ingest(path):
    began = time.monotonic()
    with open(path, "rb") as fh:
        dataset = services.accept_upload(team=team, user=user, uploaded=File(fh, name="bench.zip"), name="bench")
    deadline = time.monotonic() + timeout_s
    while True:
        dataset.refresh_from_db()
        dataset.job.refresh_from_db()
        if dataset.job.is_finished:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"ingest job {dataset.job_id} did not finish in {timeout_s} s")
        time.sleep(0.1)
    problems = dataset.report.get("problems", [])
    return {"status": dataset.status, "frames": dataset.frames, "seconds": round(time.monotonic() - began, 2),
            "kinds": {str(p["row"]): p["kind"] for p in problems}, "error": dataset.error,
            "job_error": dataset.job.error, "peak_kb": child_peak_kb()}


out = {"baseline": ingest(zips["baseline"])}
out["huge_jpeg"] = ingest(zips["huge_jpeg"])
out["huge_line"] = ingest(zips["huge_line"])
out["rejected"] = ingest(zips["rejected"])
accepted = 0
ready = Dataset.objects.filter(status=Dataset.Status.READY).first()
for name, value in (("epochs", 1000000), ("head_dense_units", 1000000), ("representative_samples", 10000000)):
    try:
        garage.start_training(team=team, user=user, name="huge", datasets=[ready],
                              configs=[TrainConfig.from_dict({name: value})])
        accepted += 1
    except (ConfigError, ValidationError):
        pass
out["oversized_configs_accepted"] = accepted
print("DRIVER " + json.dumps(out))
"""


def _rows() -> list[str]:
    return (REAL_SAMPLE / "driving_log.csv").read_text().splitlines()[:REAL_ROWS]


def _image(line: str, column: int) -> str:
    return line.split(",")[column].strip().replace("\\", "/").rsplit("/", 1)[-1]


def _jpeg(width: int, height: int, mode: str = "RGB", quality: int = 75) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new(mode, (width, height), 90 if mode == "L" else (90, 120, 140)).save(buffer, format="JPEG",
                                                                               quality=quality)
    return buffer.getvalue()


def _write_zip(path: Path, lines: list[str], replace: dict[str, bytes] | None = None,
               insert: tuple[int, str] | None = None) -> Path:
    """The real rows' log and images, stored (a flat JPEG or a line of one character deflates
    past the zip-bomb ratio), with some images replaced and one line inserted."""
    replace = replace or {}
    log = list(lines)
    if insert:
        log.insert(insert[0], insert[1])
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("driving_log.csv", "\n".join(log) + "\n")
        for line in lines:
            for column in range(3):
                name = _image(line, column)
                data = replace.get(name)
                zf.writestr(f"IMG/{name}", data if data is not None else (REAL_SAMPLE / "IMG" / name).read_bytes())
    return path


def build_zips(folder: Path) -> dict[str, str]:
    lines = _rows()
    small = _jpeg(160, 80)
    huge = _jpeg(HUGE_SIDE, HUGE_SIDE, quality=5)  # a real RGB 13000x13000 JPEG (~500 MB decoded)
    hostile = {_image(lines[0], c): small for c in range(3)}
    hostile[_image(lines[3], 0)] = huge
    del huge
    zips = {
        "baseline": _write_zip(folder / "baseline.zip", lines),
        "huge_jpeg": _write_zip(folder / "huge_jpeg.zip", lines, replace=hostile),
        "huge_line": _write_zip(folder / "huge_line.zip", lines, insert=(6, "x" * (HUGE_LINE_MB * 1024 * 1024))),
        "rejected": _rejected_zip(folder / "rejected.zip", lines[:2]),
    }
    return {k: str(v) for k, v in zips.items()}


def _rejected_zip(path: Path, lines: list[str]) -> Path:
    """Every row bad (NaN steering): the upload is rejected as a whole."""
    bad = [", ".join([*line.split(", ")[:3], "NaN", *line.split(", ")[4:]]) for line in lines]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("driving_log.csv", "\n".join(bad) + "\n")
        for line in lines:
            for column in range(3):
                name = _image(line, column)
                zf.writestr(f"IMG/{name}", (REAL_SAMPLE / "IMG" / name).read_bytes())
    return path


def measure() -> dict:
    if not (REAL_SAMPLE / "driving_log.csv").is_file():
        raise RuntimeError(f"the real Udacity sample is not at {REAL_SAMPLE}")
    with BenchStack("inputs", DEBUG="0", TF_CPP_MIN_LOG_LEVEL="3") as stack:
        stack.redis.start()
        stack.migrate()  # the database exists before the worker starts
        worker = stack.start_worker("evaluation", f"bench-inputs-{os.getpid()}@%h", "--concurrency", "1",
                                    "--pool", "prefork", "--without-heartbeat")
        zips = build_zips(stack.var_dir)
        try:
            stdout = stack.run_python(_DRIVER, str(worker.pid), str(JOB_TIMEOUT_S), json.dumps(zips),
                                      timeout=JOB_TIMEOUT_S * 5)
        except RuntimeError as exc:
            raise RuntimeError(f"driver failed: {exc}\nworker:\n{stack.worker_log.read_text()[-3000:]}") from exc
        out = tagged_json(stdout, "DRIVER")
        if out is None:
            raise RuntimeError(f"driver printed no DRIVER line:\n{stdout[-2000:]}\n"
                               f"worker:\n{stack.worker_log.read_text()[-3000:]}")
    base, jpeg, huge_line, rejected = out["baseline"], out["huge_jpeg"], out["huge_line"], out["rejected"]
    if base["status"] != "ready":
        raise RuntimeError(f"the baseline upload did not ingest: {base}")
    return {
        "ingest_rss_growth_mb_huge_jpeg": round((jpeg["peak_kb"] - base["peak_kb"]) / 1024, 1),
        "huge_jpeg_real_frames_kept": jpeg["frames"],
        "huge_jpeg_real_frames_expected": REAL_ROWS - 2,
        "huge_jpeg_skipped_as": {row: jpeg["kinds"].get(row) for row in ("1", "4")},
        "huge_line_ingest_ok": huge_line["status"] == "ready",
        "huge_line_frames_kept": huge_line["frames"],
        "huge_line_reported_as": huge_line["kinds"].get("7"),
        "huge_line_ingest_s": huge_line["seconds"],
        "ingest_rss_growth_mb_huge_line": round((huge_line["peak_kb"] - base["peak_kb"]) / 1024, 1),
        "oversized_configs_accepted": out["oversized_configs_accepted"],
        "job_error_has_class_name": any(word in rejected["job_error"] for word in ("Rejected:", "Error:", "Failed:")),
        "rejected_job_error": rejected["job_error"],
    }


if __name__ == "__main__":
    print("RESULT " + json.dumps(measure()))
