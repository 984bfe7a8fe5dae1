"""`manage.py seed_demo`: a demo league to look at on a fresh install. Safe to run again."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from webapp.leagues.models import Event, League
from webapp.leagues.services import make_organiser

LEAGUE_NAME = "Pitlane Demo League"
ORGANISER = "organiser"
#: The virtual time trial races this built-in DeepRacer-scale track (simulator.track), which the
#: site's RL models (DeepRacer camera and car) can be evaluated on and so enter.
VIRTUAL_TRACK = "pitlane_loop"
#: The race day's track is a physical one, marked out on the floor: re:Invent 2018's layout.
PHYSICAL_TRACK = "reinvent_base"
#: What earlier versions wrote, which said the virtual trial used the re:Invent 2018 track.
EARLIER_DESCRIPTIONS = (
    "A public league to try Pitlane with: a virtual time trial on the re:Invent 2018 "
    "track that any team can enter, and a race day for physical cars.",
)


def describe_league() -> str:
    """The league's description, naming the track each event uses (the virtual one's facts come
    from the simulator's own track)."""
    from simulator.track import load_track

    track = load_track(VIRTUAL_TRACK)
    return (f"A public league to try Pitlane with: a virtual time trial on {VIRTUAL_TRACK}, a built-in "
            f"DeepRacer-scale track ({track.length:.1f} m), that any team can enter with a "
            f"reinforcement-learning model trained here, and a race day for physical cars on the "
            f"re:Invent 2018 track ({PHYSICAL_TRACK}), marked out on the floor.")


class Command(BaseCommand):
    help = "Create the demo league, its two events and the `organiser` account (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options):
        now = timezone.now().replace(minute=0, second=0, microsecond=0)
        league, created = League.objects.get_or_create(
            name=LEAGUE_NAME,
            defaults={"visibility": League.Visibility.PUBLIC, "description": describe_league()},
        )
        if league.description in EARLIER_DESCRIPTIONS:  # named a track the virtual event does not use
            league.description = describe_league()
            league.save(update_fields=["description"])
        self._report("League", league.name, created)

        virtual, created = Event.objects.get_or_create(
            league=league, name="Virtual Time Trial",
            defaults={
                "kind": Event.Kind.VIRTUAL, "track": VIRTUAL_TRACK, "status": Event.Status.OPEN,
                "starts": now, "ends": now + timedelta(days=30),
                "ranking_rule": Event.RankingRule.BEST_LAP,
            },
        )
        self._report("Event", virtual.name, created)

        physical, created = Event.objects.get_or_create(
            league=league, name="Race Day",
            defaults={
                "kind": Event.Kind.PHYSICAL, "track": PHYSICAL_TRACK, "status": Event.Status.OPEN,
                "starts": now + timedelta(days=21), "ends": now + timedelta(days=21, hours=8),
                "location": "Workshop hall, track marked out on the floor",
                "ranking_rule": Event.RankingRule.BEST_AVERAGE, "consecutive_laps": 3,
            },
        )
        self._report("Event", physical.name, created)

        user_model = get_user_model()
        organiser = user_model.objects.filter(username=ORGANISER).first()
        if organiser is None:
            password = secrets.token_urlsafe(12)
            organiser = user_model.objects.create_user(username=ORGANISER, password=password)
            make_organiser(organiser, league)
            self.stdout.write(self.style.SUCCESS(f"Created organiser account “{ORGANISER}”."))
            self.stdout.write(f"  password: {password}")
            self.stdout.write("  (shown only this once: note it down, or reset it with `manage.py changepassword`)")
        else:
            make_organiser(organiser, league)
            self.stdout.write(f"Organiser account “{ORGANISER}” already exists (password unchanged).")

    def _report(self, what: str, name: str, created: bool) -> None:
        self.stdout.write(f"{what} “{name}”: {'created' if created else 'already there'}.")
