from django.apps import AppConfig


class GarageConfig(AppConfig):
    name = "webapp.garage"
    label = "garage"
    verbose_name = "Models"
