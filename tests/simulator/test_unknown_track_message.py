"""An unknown track name says where it was looked for in words a racer can act on: it ended in
"no nope.npy in []" when no track folder was configured (found running `drive_agent --track nope`)."""

from __future__ import annotations

import pytest

from simulator import track as track_module
from simulator.track import TRACK_DIRS_ENV, load_track


def test_without_track_folders_the_message_names_the_way_to_give_one(monkeypatch) -> None:
    monkeypatch.delenv(TRACK_DIRS_ENV, raising=False)
    monkeypatch.setattr(track_module, "_SHARED_TRACKS", track_module.Path("/nonexistent-tracks"))
    with pytest.raises(FileNotFoundError) as err:
        load_track("nope")
    message = str(err.value)
    assert "[]" not in message
    assert "no nope.npy found" in message and TRACK_DIRS_ENV in message and "pitlane_loop" in message


def test_with_a_track_folder_the_message_lists_it(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(TRACK_DIRS_ENV, str(tmp_path))
    with pytest.raises(FileNotFoundError, match=f"no nope.npy in {tmp_path}"):
        load_track("nope")
