from django.apps import AppConfig


class RlAppConfig(AppConfig):
    name = "webapp.rl"
    label = "rl"
    verbose_name = "Reinforcement learning"
