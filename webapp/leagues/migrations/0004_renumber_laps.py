"""Lap numbers become the server's and unique per event and team. Teams whose laps repeat a number
(typed by hand in the admin) get theirs renumbered 1..n in the order they were driven (old number,
then when recorded, then id); teams without a repeat keep their numbers. The Organisers group gets
the permissions of the new race models."""

from django.contrib.auth.management import create_permissions
from django.db import migrations
from django.db.models import Count

GROUP = "Organisers"
NEW_PERMISSIONS = {
    "round": ("view", "add", "change", "delete"),
    "heat": ("view", "change"),
    "attempt": ("view",),
    "auditentry": ("view",),
    "timerdevice": ("view", "add", "change"),
    "crossing": ("view",),
}


def renumber_repeated_laps(apps, schema_editor):
    LapResult = apps.get_model("leagues", "LapResult")
    repeated = (
        LapResult.objects.values("event_id", "team_id", "lap_number")
        .annotate(copies=Count("id")).filter(copies__gt=1)
        .values_list("event_id", "team_id").distinct()
    )
    for event_id, team_id in set(repeated):
        laps = list(LapResult.objects.filter(event_id=event_id, team_id=team_id)
                    .order_by("lap_number", "recorded", "id"))
        for number, lap in enumerate(laps, start=1):
            if lap.lap_number != number:
                note = f"renumbered from lap {lap.lap_number}"
                lap.note = f"{lap.note}; {note}"[:200] if lap.note else note
            lap.lap_number = number
        # Two passes so that no intermediate state repeats a number.
        offset = len(laps) + 1000
        for lap in laps:
            LapResult.objects.filter(pk=lap.pk).update(lap_number=lap.lap_number + offset)
        for lap in laps:
            LapResult.objects.filter(pk=lap.pk).update(lap_number=lap.lap_number, note=lap.note)


def add_permissions(apps, schema_editor):
    app_config = apps.get_app_config("leagues")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=GROUP)
    codenames = [f"{action}_{model}" for model, actions in NEW_PERMISSIONS.items() for action in actions]
    group.permissions.add(*Permission.objects.filter(content_type__app_label="leagues", codename__in=codenames))


class Migration(migrations.Migration):
    dependencies = [("leagues", "0003_race_models")]

    operations = [
        migrations.RunPython(renumber_repeated_laps, migrations.RunPython.noop),
        migrations.RunPython(add_permissions, migrations.RunPython.noop),
    ]
