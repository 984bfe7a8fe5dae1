from django.apps import AppConfig


class LeaguesConfig(AppConfig):
    name = "webapp.leagues"
    label = "leagues"
    verbose_name = "Leagues and races"
