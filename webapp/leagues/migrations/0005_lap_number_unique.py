from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("leagues", "0004_renumber_laps")]

    operations = [
        migrations.AddConstraint(
            model_name="lapresult",
            constraint=models.UniqueConstraint(fields=("event", "team", "lap_number"), name="one_lap_number_per_team"),
        ),
    ]
