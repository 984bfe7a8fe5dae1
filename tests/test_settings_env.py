"""Settings read from the environment: an unreadable value is an error naming the variable."""

from __future__ import annotations

import subprocess
import sys

import pytest

from webapp.env import ImproperlySetError, env_bool, env_float, env_int, env_list


@pytest.mark.parametrize("value, expected", [("1", True), ("true", True), (" YES ", True), ("on", True),
                                             ("0", False), ("false", False), ("No", False), ("off", False),
                                             ("", False)])
def test_env_bool_reads_the_words_it_knows(monkeypatch, value, expected):
    monkeypatch.setenv("PITLANE_FLAG", value)
    assert env_bool("PITLANE_FLAG", not expected) is expected


def test_env_bool_refuses_a_word_it_does_not_know(monkeypatch):
    monkeypatch.setenv("DEBUG", "ture")
    with pytest.raises(ImproperlySetError, match=r"DEBUG='ture' is not a yes/no value"):
        env_bool("DEBUG", False)


def test_unset_variables_give_the_default(monkeypatch):
    monkeypatch.delenv("PITLANE_X", raising=False)
    assert env_bool("PITLANE_X", True) is True
    assert env_int("PITLANE_X", 7) == 7
    assert env_float("PITLANE_X", 2.5) == 2.5
    assert env_list("PITLANE_X", "a, b,,c") == ["a", "b", "c"]


def test_numbers_are_parsed_and_bounded(monkeypatch):
    monkeypatch.setenv("JOB_MAX_ATTEMPTS", " 5 ")
    assert env_int("JOB_MAX_ATTEMPTS", 3, minimum=1) == 5
    monkeypatch.setenv("JOB_STALE_AFTER_S", "12.5")
    assert env_float("JOB_STALE_AFTER_S", 60.0) == 12.5
    monkeypatch.setenv("JOB_MAX_ATTEMPTS", "three")
    with pytest.raises(ImproperlySetError, match=r"JOB_MAX_ATTEMPTS='three' is not an integer"):
        env_int("JOB_MAX_ATTEMPTS", 3)
    monkeypatch.setenv("JOB_MAX_ATTEMPTS", "0")
    with pytest.raises(ImproperlySetError, match="JOB_MAX_ATTEMPTS='0' is below its minimum of 1"):
        env_int("JOB_MAX_ATTEMPTS", 3, minimum=1)
    monkeypatch.setenv("JOB_STALE_AFTER_S", "soon")
    with pytest.raises(ImproperlySetError, match="JOB_STALE_AFTER_S='soon' is not a number"):
        env_float("JOB_STALE_AFTER_S", 60.0)


def test_settings_module_refuses_a_bad_value_at_start(tmp_path):
    """The real settings module fails loudly, naming the variable, instead of running with a default."""
    env = {"PATH": "/usr/bin:/bin", "PITLANE_VAR_DIR": str(tmp_path), "JOB_STALE_AFTER_S": "a minute"}
    proc = subprocess.run([sys.executable, "-c", "import webapp.settings"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode != 0
    assert "JOB_STALE_AFTER_S='a minute' is not a number" in proc.stderr
