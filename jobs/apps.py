from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from jobs import checks  # noqa: F401 - registers the system checks
        from jobs.roles import ensure_roles
        from jobs.schedules import ensure_schedules

        post_migrate.connect(ensure_roles, sender=self)
        post_migrate.connect(ensure_schedules, sender=self)
