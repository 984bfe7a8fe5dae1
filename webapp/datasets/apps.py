from django.apps import AppConfig


class DatasetsConfig(AppConfig):
    name = "webapp.datasets"
    label = "datasets"
    verbose_name = "Datasets"

    def ready(self) -> None:
        from . import receivers  # noqa: F401  (connects the job_finished receiver)
