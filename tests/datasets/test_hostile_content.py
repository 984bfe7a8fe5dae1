"""Hostile content inside an accepted zip: a 13000x13000 JPEG among the real 320x160 frames, frames
of another size first in the log, a line of megabytes. The real frames stay valid, each bad row is
skipped with its line and reason, the huge image is judged from its header and never decoded, and
a failed ingest tells the team what happened in words, not Python class names."""

from __future__ import annotations

import functools
import io
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.datasets.helpers import jpeg_bytes, run_in_process, sample_members
from tests.support.waiting import wait_for
from webapp.datasets import services, validation
from webapp.datasets.archive import SOURCE_LOG_NAME
from webapp.datasets.models import Dataset
from webapp.jobs.models import Job

HUGE_SIDE = 13000
ROWS = 12
CLASS_NAMES = ("UploadRejected", "IngestFailed", "Error:", "Exception", "Traceback", "KeyError")


@functools.cache
def huge_jpeg() -> bytes:
    """A real 13000x13000 baseline JPEG (grey, so it is 2 MB and made in a fraction of a second)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (HUGE_SIDE, HUGE_SIDE), 90).save(buffer, format="JPEG", quality=1)
    return buffer.getvalue()


def _image(line: str, column: int) -> str:
    return line.split(", ")[column].rsplit("\\", 1)[-1]


def hostile_members(real_sample: Path, huge_line_chars: int = 0) -> dict[str, bytes]:
    """ROWS real rows where line 1's frames are 160x80 (the first frame has the wrong size), line 4's
    centre image is the 13000x13000 JPEG and, when asked, a line of `huge_line_chars` characters
    follows line 6 (as line 7)."""
    members = sample_members(real_sample, rows=ROWS)
    lines = members["driving_log.csv"].decode().splitlines()
    for column in range(3):
        members[f"IMG/{_image(lines[0], column)}"] = jpeg_bytes(160, 80)
    members[f"IMG/{_image(lines[3], 0)}"] = huge_jpeg()
    if huge_line_chars:
        lines.insert(6, "x" * huge_line_chars)
    members["driving_log.csv"] = ("\n".join(lines) + "\n").encode()
    return members


def zip_stored(members: dict[str, bytes]) -> bytes:
    """Stored, not deflated: a flat grey JPEG deflates 100-fold and would be refused as a zip bomb."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def _extracted(folder: Path, members: dict[str, bytes]) -> Path:
    (folder / "IMG").mkdir(parents=True)
    for name, data in members.items():
        (folder / (SOURCE_LOG_NAME if name == "driving_log.csv" else name)).write_bytes(data)
    return folder


@pytest.fixture
def decoded_sizes(monkeypatch) -> list[tuple[int, int]]:
    """The size of every image whose pixels Pillow decodes (ImageFile.load) while the test runs."""
    from PIL import ImageFile

    sizes: list[tuple[int, int]] = []
    original = ImageFile.ImageFile.load

    def spy(self):
        sizes.append(self.size)
        return original(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy)
    return sizes


def test_huge_frame_is_skipped_from_its_header_and_the_dominant_size_wins(real_sample, tmp_path, decoded_sizes):
    dest = _extracted(tmp_path / "dataset", hostile_members(real_sample))
    checked = validation.validate(dest)

    assert checked.image_size == (320, 160)
    assert [row.line for row in checked.rows] == [2, 3, *range(5, ROWS + 1)]
    problems = {p["row"]: p for p in checked.report([])["problems"]}
    assert sorted(problems) == [1, 4]
    assert problems[1]["kind"] == "size_mismatch" and "160x80, the log's frames are 320x160" in problems[1]["message"]
    assert problems[4]["kind"] == "image_too_large"
    assert f"{HUGE_SIDE}x{HUGE_SIDE} pixels" in problems[4]["message"] and "not decoded" in problems[4]["message"]
    # Only frames of the log's size were decoded: the huge one and the 160x80 ones never were.
    assert decoded_sizes and set(decoded_sizes) == {(320, 160)}


def test_frames_above_the_pixel_cap_are_skipped_even_when_they_are_the_majority(real_sample, tmp_path,
                                                                                  decoded_sizes):
    members = sample_members(real_sample, rows=3)
    big = jpeg_bytes(2000, 1200)  # 2.4 MP, above MAX_FRAME_PIXELS
    for name in [n for n in members if n.startswith("IMG/")][:6]:  # rows 1 and 2
        members[name] = big
    checked = validation.validate(_extracted(tmp_path / "dataset", members))
    assert checked.image_size == (320, 160) and [row.line for row in checked.rows] == [3]
    assert checked.counts == {"image_too_large": 2}
    assert (2000, 1200) not in decoded_sizes


def test_a_truncated_frame_of_the_right_size_is_still_caught_by_decoding(real_sample, tmp_path):
    members = sample_members(real_sample, rows=3)
    name = _image(members["driving_log.csv"].decode().splitlines()[1], 2)
    members[f"IMG/{name}"] = members[f"IMG/{name}"][:2000]
    checked = validation.validate(_extracted(tmp_path / "dataset", members))
    assert [row.line for row in checked.rows] == [1, 3] and checked.counts == {"corrupt_image": 1}


def _accept(team, content: bytes) -> Dataset:
    return services.accept_upload(team=team, user=team.captain, name="Hostile",
                                  uploaded=SimpleUploadedFile("hostile.zip", content))


def _finished(dataset: Dataset, timeout_s: float = 60) -> Dataset:
    def done():
        dataset.refresh_from_db()
        dataset.job.refresh_from_db()
        return dataset.job.is_finished

    wait_for(done, timeout_s=timeout_s, message=f"ingest job {dataset.job_id} to finish")
    return dataset


def test_worker_ingests_the_real_frames_around_a_huge_jpeg_and_a_huge_line(team_a, real_sample,
                                                                          celery_worker_process, pitlane_dirs):
    """Through a real Celery worker and Redis: the 2 MB line (the csv module's field limit is
    128 KB) and the huge frame are two reported rows; the real frames make the dataset."""
    dataset = _finished(_accept(team_a, zip_stored(hostile_members(real_sample, huge_line_chars=2_000_000))))

    assert dataset.job.status == Job.Status.SUCCEEDED, dataset.job.error
    assert dataset.status == Dataset.Status.READY, dataset.error
    assert (dataset.rows_total, dataset.frames, dataset.rows_skipped) == (ROWS + 1, ROWS - 2, 3)
    assert dataset.stats["image_size"] == [320, 160]
    report = dataset.report
    assert [(p["row"], p["kind"]) for p in report["problems"]] == [
        (1, "size_mismatch"), (4, "image_too_large"), (7, "bad_line")]
    assert "longer than 8,192 characters" in report["problems"][2]["message"]
    clean = (dataset.path / "driving_log.csv").read_text().splitlines()
    assert len(clean) == 1 + ROWS - 2


def test_worker_failure_messages_are_sentences_without_class_names(team_a, real_sample, celery_worker_process,
                                                                   pitlane_dirs):
    """A rejected upload: the job's error is the dataset's own message, readable, no class name."""
    members = sample_members(real_sample, rows=3)
    members["driving_log.csv"] = b"x" * 300_000 + b"\n"
    dataset = _finished(_accept(team_a, zip_stored(members)))

    assert dataset.status == Dataset.Status.FAILED and dataset.job.status == Job.Status.FAILED
    assert dataset.error == "No usable rows: its only row has a problem (see the report)."
    assert dataset.job.error == dataset.error
    assert dataset.report["problems"][0]["kind"] == "bad_line"


@pytest.mark.django_db
def test_an_unexpected_error_reads_as_a_sentence_and_keeps_its_traceback_in_the_log(team_a, real_sample, tmp_path,
                                                                                     monkeypatch, pitlane_dirs):
    def broken(*args, **kwargs):
        raise KeyError("image_size")

    monkeypatch.setattr(validation, "validate", broken)
    dataset = _accept(team_a, zip_stored(sample_members(real_sample, rows=3)))
    run_in_process(dataset.job_id)
    dataset.refresh_from_db()
    job = Job.objects.get(pk=dataset.job_id)
    assert dataset.status == Dataset.Status.FAILED and job.status == Job.Status.FAILED
    assert dataset.error == services.UNEXPECTED and job.error == dataset.error
    assert not any(word in dataset.error for word in CLASS_NAMES)
    assert "KeyError: 'image_size'" in job.log_tail  # the team's log keeps the details


@pytest.mark.parametrize("exc, message", [
    (ValueError("the log's first frame has no size"), "Ingestion failed: the log's first frame has no size"),
    (KeyError("frames"), services.UNEXPECTED),
    (RuntimeError(), services.UNEXPECTED),
    (MemoryError(), "Ingestion ran out of memory."),
    (OSError(28, "No space left on device"), "Ingestion failed: No space left on device."),
])
def test_failure_messages(exc, message):
    assert services.failure_message(exc) == message
