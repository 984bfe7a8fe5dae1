"""Race models and their migration: lap numbers unique per event and team (existing repeated numbers
renumbered in driving order), server-assigned numbers for typed laps, registration approval, the
audit CSV export (formula-injection safe), and the admin going through the services."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from django.utils import timezone

from webapp.leagues import ranking, selectors, services
from webapp.leagues.models import DEFAULT_TIE_BREAK_CHAIN, AuditEntry, Event, LapResult, TimerDevice
from webapp.leagues.services import csv_safe, make_organiser, record_lap


def test_the_models_default_tie_break_is_rankings():
    assert ",".join(ranking.DEFAULT_TIE_BREAK) == DEFAULT_TIE_BREAK_CHAIN


@pytest.mark.django_db(transaction=True)
def test_the_migration_renumbers_repeated_lap_numbers(make_user):
    executor = MigrationExecutor(connection)
    executor.migrate([("leagues", "0003_race_models")])
    old = executor.loader.project_state([("leagues", "0003_race_models")]).apps
    Team = old.get_model("accounts", "Team")
    League, Event, LapResult = (old.get_model("leagues", name) for name in ("League", "Event", "LapResult"))
    team, other = Team.objects.create(name="Alpha", slug="alpha"), Team.objects.create(name="Bravo", slug="bravo")
    now = timezone.now()
    event = Event.objects.create(league=League.objects.create(name="L", slug="l"), name="E", track="t",
                                 starts=now, ends=now)
    for number, seconds, minute in ((1, 14.9, 0), (2, 14.2, 1), (3, 14.1, 2), (3, 13.2, 3), (4, 14.0, 4)):
        LapResult.objects.create(event=event, team=team, lap_number=number, lap_time_s=seconds,
                                 recorded=now + timedelta(minutes=minute))
    LapResult.objects.create(event=event, team=other, lap_number=7, lap_time_s=15.0, recorded=now)

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    from webapp.leagues.models import LapResult as Lap

    rows = list(Lap.objects.filter(team_id=team.pk).order_by("lap_number").values_list("lap_number", "lap_time_s"))
    assert rows == [(1, 14.9), (2, 14.2), (3, 14.1), (4, 13.2), (5, 14.0)]
    assert Lap.objects.get(team_id=team.pk, lap_time_s=13.2).note == "renumbered from lap 3"
    assert Lap.objects.get(team_id=other.pk).lap_number == 7  # no repeat: untouched
    with pytest.raises(IntegrityError), transaction.atomic():
        Lap.objects.create(event_id=event.pk, team_id=team.pk, lap_number=5, lap_time_s=9.0)


@pytest.fixture
def organised(make_league, make_event, make_user, team_a):
    league = make_league()
    organiser = make_user("org")
    make_organiser(organiser, league)
    event = make_event(league, kind=Event.Kind.PHYSICAL)
    event.registrations.create(team=team_a)
    return organiser, event


@pytest.mark.django_db
def test_lap_numbers_are_the_servers(organised, team_a):
    organiser, event = organised
    first = record_lap(event=event, team=team_a, lap_time_s=14.413, recorded_by=organiser)
    second = record_lap(event=event, team=team_a, lap_time_s=14.5, lap_number=1)  # a typed "1" is taken
    assert (first.lap_number, second.lap_number) == (1, 2)
    second.lap_number = 1  # editing cannot type over the number either
    services.save_lap(second)
    second.refresh_from_db()
    assert second.lap_number == 2
    services.delete_lap(first, user=organiser, reason="double entry")
    second.refresh_from_db()
    assert second.lap_number == 1
    assert list(AuditEntry.objects.order_by("pk").values_list("action", flat=True)) == [
        "lap_added", "lap_added", "lap_removed"]


@pytest.mark.django_db
def test_registration_approval(make_league, make_event, make_user, team_a):
    league = make_league()
    organiser = make_user("org")
    make_organiser(organiser, league)
    event = make_event(league, requires_approval=True)
    captain = team_a.memberships.first().user
    registration = services.register_team(user=captain, team=team_a, event=event)
    assert not registration.approved
    with pytest.raises(ValidationError, match="not a registered"):
        record_lap(event=event, team=team_a, lap_time_s=9.0)
    with pytest.raises(PermissionDenied):
        services.approve_registration(user=captain, registration=registration)
    services.approve_registration(user=organiser, registration=registration)
    registration.refresh_from_db()
    assert registration.approved
    assert record_lap(event=event, team=team_a, lap_time_s=9.0).lap_number == 1


@pytest.mark.parametrize(("cell", "safe"), [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"), ("+1", "'+1"), ("-2+3", "'-2+3"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("\tcmd", "'\tcmd"), ("\rcmd", "'\rcmd"), ("Team Alpha", "Team Alpha"), (7.61, "7.61"), (None, ""),
])
def test_csv_cells_never_start_a_formula(cell, safe):
    assert csv_safe(cell) == safe


@pytest.mark.django_db
def test_the_audit_csv_escapes_reasons_and_names(organised, make_team, make_user):
    organiser, event = organised
    evil = make_team("=cmd|' /C calc'!A0")
    event.registrations.create(team=evil)
    lap = record_lap(event=event, team=evil, lap_time_s=9.0, recorded_by=organiser)
    services.mark_laps(LapResult.objects.filter(pk=lap.pk), valid=False, user=organiser, reason="+cut the corner")
    text = services.audit_csv(organiser, event)
    lines = text.splitlines()
    assert lines[0].startswith("when,who,action,team")
    assert "'+cut the corner" in text and ",+cut" not in text
    with pytest.raises(PermissionDenied):
        services.audit_csv(make_user("stranger"), event)
    assert len(list(selectors.audit_rows(event))) == 3  # header, added, invalidated


# -- admin --------------------------------------------------------------------------------------

def _lap_form(event, team, lap_number):
    return {"event": event.pk, "team": team.pk, "lap_number": lap_number, "lap_time_s": "10.5", "resets": 0,
            "valid": "on", "source": "organiser", "recorded_0": "2025-06-01", "recorded_1": "10:00:00", "note": "",
            "invalidated_reason": ""}


@pytest.mark.django_db
def test_admin_laps_are_numbered_by_the_server_and_audited(client, organised, team_a):
    organiser, event = organised
    client.force_login(organiser)
    add = reverse("admin:leagues_lapresult_add")
    for _ in range(2):
        assert client.post(add, _lap_form(event, team_a, 3)).status_code == 302  # the typed 3 is ignored
    assert list(LapResult.objects.order_by("lap_number").values_list("lap_number", flat=True)) == [1, 2]
    lap = LapResult.objects.get(lap_number=1)
    response = client.post(reverse("admin:leagues_lapresult_delete", args=[lap.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert list(LapResult.objects.values_list("lap_number", flat=True)) == [1]
    assert list(AuditEntry.objects.order_by("pk").values_list("action", "actor__username")) == [
        ("lap_added", "org"), ("lap_added", "org"), ("lap_removed", "org")]


@pytest.mark.django_db
def test_admin_device_token_is_shown_once_and_scoped(client, organised, make_league, make_event, make_user):
    organiser, event = organised
    client.force_login(organiser)
    response = client.post(reverse("admin:leagues_timerdevice_add"),
                           {"event": event.pk, "name": "Finish line", "debounce_s": "2.0"}, follow=True)
    assert response.status_code == 200
    device = TimerDevice.objects.get()
    shown = [str(m) for m in response.context["messages"] if "shown only now" in str(m)]
    assert len(shown) == 1
    from webapp.leagues import race

    token = shown[0].split(": ")[-1]
    assert race.device_for_token(token) == device
    assert token not in device.token_hash
    page = client.get(reverse("admin:leagues_timerdevice_change", args=[device.pk]))
    assert token not in page.content.decode()
    # The organiser of another league neither sees nor revokes it.
    other = make_user("other-org")
    make_organiser(other, make_league("Other League"))
    client.force_login(other)
    assert client.get(reverse("admin:leagues_timerdevice_change", args=[device.pk])).status_code == 404
    client.post(reverse("admin:leagues_timerdevice_changelist"),
                {"action": "revoke", "_selected_action": [device.pk]})
    device.refresh_from_db()
    assert device.active


@pytest.mark.django_db
def test_admin_names_timekeepers_by_username(client, organised, make_user):
    organiser, event = organised
    timekeeper = make_user("tk")
    client.force_login(organiser)
    url = reverse("admin:leagues_event_change", args=[event.pk])
    form = client.get(url).context["adminform"].form
    data = {name: field.value() if not hasattr(field.value(), "pk") else field.value().pk
            for name, field in ((n, form[n]) for n in form.fields)}
    data = {k: ("" if v is None else v) for k, v in data.items()}
    data.update({"starts_0": event.starts.strftime("%Y-%m-%d"), "starts_1": event.starts.strftime("%H:%M:%S"),
                 "ends_0": event.ends.strftime("%Y-%m-%d"), "ends_1": event.ends.strftime("%H:%M:%S"),
                 "timekeeper_usernames": "tk, nobody", "requires_approval": "", "results_revealed": "on",
                 "registrations-TOTAL_FORMS": 0, "registrations-INITIAL_FORMS": 0})
    data = {k: v for k, v in data.items() if k not in ("starts", "ends") and v is not False}
    response = client.post(url, data)
    assert "No such user: nobody" in response.content.decode()
    data["timekeeper_usernames"] = "tk"
    assert client.post(url, data).status_code == 302
    assert list(event.timekeepers.all()) == [timekeeper]
    assert selectors.can_keep_time(timekeeper, event)


@pytest.mark.django_db
def test_moving_a_lap_to_another_team_renumbers_both(organised, team_a, team_b):
    organiser, event = organised
    event.registrations.create(team=team_b)
    first, second, third = (record_lap(event=event, team=team_a, lap_time_s=t) for t in (9.0, 9.1, 9.2))
    record_lap(event=event, team=team_b, lap_time_s=8.0)
    second.team = team_b
    services.save_lap(second, user=organiser, reason="wrong team")
    assert list(LapResult.objects.filter(team=team_a).order_by("lap_number")
                .values_list("lap_number", "lap_time_s")) == [(1, 9.0), (2, 9.2)]
    assert list(LapResult.objects.filter(team=team_b).order_by("lap_number")
                .values_list("lap_number", "lap_time_s")) == [(1, 8.0), (2, 9.1)]
    edited = AuditEntry.objects.get(action="lap_edited")
    assert (edited.old["team"], edited.new["team"], edited.reason) == (team_a.pk, team_b.pk, "wrong team")


@pytest.mark.django_db
def test_a_typed_lap_below_the_plausible_minimum_needs_confirmation(client, organised, team_a):
    organiser, event = organised
    event.min_plausible_lap_s = 5.0
    event.save()
    with pytest.raises(ValidationError, match="plausible minimum"):
        record_lap(event=event, team=team_a, lap_time_s=0.4)
    assert record_lap(event=event, team=team_a, lap_time_s=0.4, confirm=True).confirmed_implausible
    client.force_login(organiser)
    add = reverse("admin:leagues_lapresult_add")
    form = {**_lap_form(event, team_a, 0), "lap_time_s": "0.4"}
    response = client.post(add, form)
    assert response.status_code == 200 and "plausible minimum" in response.content.decode()
    assert client.post(add, {**form, "confirmed_implausible": "on"}).status_code == 302
    assert LapResult.objects.filter(confirmed_implausible=True).count() == 2


@pytest.mark.parametrize("table", [[25, "18"], {"1": 25}, [10, -1], [True, 5], "25,18"])
def test_a_points_table_is_a_list_of_whole_points(table):
    from webapp.leagues.models import League

    with pytest.raises(ValidationError, match="points per place"):
        League(name="x", points_table=table).clean()
    League(name="x", points_table=[25, 18, 0]).clean()
