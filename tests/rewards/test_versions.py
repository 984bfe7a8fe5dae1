"""Reward functions and their versions: names unique per team, versions numbered by the server,
the same source saved again is the same version, versions are immutable, and the rules training
asks (`check_trainable`, `latest_valid_version`)."""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from tests.rewards.helpers import BROKEN, CENTRE, make_function
from webapp.rewards import selectors, services
from webapp.rewards.models import MAX_SOURCE_BYTES, RewardFunction, RewardFunctionVersion

pytestmark = pytest.mark.django_db


def test_a_new_function_starts_at_version_1_with_its_hash(team_a):
    function = make_function(team_a)
    version = function.versions.get()
    assert version.number == 1 and version.source == CENTRE and version.ok is None
    assert version.sha256 == services.source_sha256(CENTRE) and len(version.sha256) == 64
    assert version.created_by == team_a.captain and function.created_by == team_a.captain


def test_versions_are_numbered_by_the_server_and_the_same_source_is_not_saved_twice(team_a):
    function = make_function(team_a)
    v2, created = services.save_version(function=function, user=team_a.captain, source=BROKEN)
    assert created and v2.number == 2
    # The editor sends CRLF line endings and may drop the final newline: still the same code.
    again, created = services.save_version(function=function, user=team_a.captain,
                                           source=BROKEN.replace("\n", "\r\n").rstrip())
    assert not created and again.pk == v2.pk
    # Going back to version 1's code makes version 3 (the history is a sequence, not a set).
    v3, created = services.save_version(function=function, user=team_a.captain, source=CENTRE)
    assert created and v3.number == 3 and v3.sha256 == function.versions.get(number=1).sha256
    assert list(function.versions.values_list("number", flat=True)) == [3, 2, 1]


def test_numbers_are_per_function(team_a):
    one, two = make_function(team_a, "One"), make_function(team_a, "Two")
    services.save_version(function=one, user=None, source=BROKEN)
    v2_two, _ = services.save_version(function=two, user=None, source=BROKEN)
    assert v2_two.number == 2 and one.versions.count() == 2


@pytest.mark.django_db(transaction=True)
def test_teammates_saving_at_once_get_distinct_numbers(team_a):
    """The function's row lock on PostgreSQL, IMMEDIATE transactions on SQLite: no number twice."""
    function = make_function(team_a)
    errors = []

    def save(i):
        try:
            services.save_version(function=function, user=None, source=CENTRE + f"# {i}\n")
        except Exception as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=save, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(function.versions.values_list("number", flat=True)) == list(range(1, 8))


def test_versions_are_immutable(team_a):
    version = make_function(team_a).versions.get()
    version.source = "def reward_function(params):\n    return 2.0\n"
    with pytest.raises(ValueError, match="immutable"):
        version.save()
    with pytest.raises(ValueError, match="immutable"):
        version.save(update_fields=["source"])
    version.refresh_from_db()
    assert version.source == CENTRE
    # Only the last validation may be written.
    version.ok = True
    version.validated_track = "reinvent_base"
    version.save(update_fields=["ok", "validated_track"])
    version.refresh_from_db()
    assert version.ok is True


def test_names_are_unique_per_team_ignoring_case_and_spaces(team_a, team_b):
    make_function(team_a, "Centre line")
    with pytest.raises(ValidationError, match="already has a reward function called 'Centre line'"):
        make_function(team_a, "  centre   LINE ")
    # Another team may use the same name.
    assert make_function(team_b, "Centre line").team == team_b
    with pytest.raises(ValidationError, match="Give the reward function a name"):
        make_function(team_a, "   ")
    with pytest.raises(ValidationError, match="at most 120"):
        make_function(team_a, "x" * 121)
    assert RewardFunction.objects.filter(team=team_a).count() == 1


def test_sources_are_checked(team_a):
    with pytest.raises(ValidationError, match="empty"):
        make_function(team_a, "Empty", source=" \n\n ")
    with pytest.raises(ValidationError, match="at most 65,536 bytes"):
        make_function(team_a, "Huge", source="# " + "x" * MAX_SOURCE_BYTES + "\n")
    with pytest.raises(ValidationError, match="NUL"):
        make_function(team_a, "Nul", source="def reward_function(params):\n    return 1.0\x00\n")
    # Exactly at the limit is fine; multi-byte characters count as their UTF-8 bytes.
    head = "def reward_function(params):\n    return 1.0\n# é"
    pad = MAX_SOURCE_BYTES - len((head + "\n").encode())
    source = head + "x" * pad + "\n"
    assert len(source.encode()) == MAX_SOURCE_BYTES
    assert make_function(team_a, "Full", source=source).versions.get().source == source
    with pytest.raises(ValidationError, match="65,537 bytes"):
        make_function(team_a, "Over", source=head + "x" * (pad + 1) + "\n")


def test_trainable_only_after_passing_validation(team_a):
    function = make_function(team_a)
    v1 = function.versions.get()
    with pytest.raises(ValidationError, match="'Centre line' version 1 has not been validated yet"):
        services.check_trainable(v1)
    assert services.latest_valid_version(function) is None

    v1.ok, v1.validated_track = True, "reinvent_base"
    v1.save(update_fields=["ok", "validated_track"])
    services.check_trainable(v1)
    v2, _ = services.save_version(function=function, user=None, source=BROKEN)
    v2.ok, v2.validated_track = False, "reinvent_base"
    v2.save(update_fields=["ok", "validated_track"])
    with pytest.raises(ValidationError, match="version 2 failed validation on reinvent_base"):
        services.check_trainable(v2)
    # The newest version that passed, not the newest version.
    assert services.latest_valid_version(function) == v1
    v3, _ = services.save_version(function=function, user=None, source=CENTRE + "# faster\n")
    v3.ok = True
    v3.save(update_fields=["ok"])
    assert services.latest_valid_version(function) == v3


def test_team_scoped_version_lookup(team_a, team_b):
    from django.http import Http404

    mine = make_function(team_a).versions.get()
    theirs = make_function(team_b, "Bravo secret").versions.get()
    assert selectors.version_of_team_or_404(team_a, mine.pk) == mine
    with pytest.raises(Http404):
        selectors.version_of_team_or_404(team_a, theirs.pk)
    assert list(selectors.versions_of_team(team_a)) == [mine]
    assert list(selectors.trainable_versions_of_team(team_a)) == []
    mine.ok = True
    mine.save(update_fields=["ok"])
    assert list(selectors.trainable_versions_of_team(team_a)) == [mine]


def test_list_shows_the_latest_version_and_its_verdict(team_a):
    function = make_function(team_a)
    v2, _ = services.save_version(function=function, user=None, source=BROKEN)
    v2.ok, v2.validated_track = False, "reinvent_base"
    v2.save(update_fields=["ok", "validated_track"])
    archived = make_function(team_a, "Old idea")
    services.set_archived(archived, True)
    [row] = selectors.functions_of_team(team_a)
    assert (row.name, row.latest_number, row.latest_ok, row.latest_track) == ("Centre line", 2, False, "reinvent_base")
    assert [f.name for f in selectors.functions_of_team(team_a, archived=True)] == ["Old idea"]
    assert RewardFunctionVersion.objects.count() == 3


def test_diff_between_versions(team_a):
    function = make_function(team_a)
    v2, _ = services.save_version(function=function, user=None,
                                  source=CENTRE.replace("return 0.5", "return 0.4  # <tuned>"))
    v1 = function.versions.get(number=1)
    table = selectors.diff_table(v1, v2)
    assert "Version 1" in table and "Version 2" in table
    assert "&lt;tuned&gt;" in table and "<tuned>" not in table  # the code is escaped
    unified = selectors.unified_diff(v1, v2)
    assert "-        return 0.5\n" in unified and "+        return 0.4  # <tuned>\n" in unified
