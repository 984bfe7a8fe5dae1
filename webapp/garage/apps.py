from django.apps import AppConfig


class GarageConfig(AppConfig):
    name = "webapp.garage"
    label = "garage"
    verbose_name = "Models"

    def ready(self) -> None:
        from . import receivers  # noqa: F401  (connects the job_finished receiver)
