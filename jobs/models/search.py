"""SQLite's trigram index of job names and task IDs, as a model the ORM can join to."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Lookup

from jobs.models.jobs import Job


class JobSearch(models.Model):
    """One row per job of the FTS5 table `jobs_job_search` (migration 0013, SQLite only;
    triggers write it, never the ORM). `Job.objects.filter(fts__document__match=query)`
    joins it on rowid and keeps the jobs matching an FTS5 query (jobs.search builds it)."""

    job = models.OneToOneField(
        Job, models.DO_NOTHING, primary_key=True, db_column="rowid", related_name="fts"
    )
    # FTS5's hidden column named after its table: `<table> MATCH ?` searches every column.
    document = models.TextField(db_column="jobs_job_search")

    class Meta:
        managed = False
        db_table = "jobs_job_search"

    def __str__(self) -> str:
        return f"search index of job {self.pk}"


class Match(Lookup):
    """`column MATCH query`: FTS5's full-text operator."""

    lookup_name = "match"

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, tuple[Any, ...]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} MATCH {rhs}", (*lhs_params, *rhs_params)


JobSearch._meta.get_field("document").register_lookup(Match)
