"""The Failures page's window: failed jobs by when they finished, without reading the rest.

`job_state_finished` indexes (state, COALESCE(finished_at, tracked_at)), the expression the
page and the job list's finished filter compare (jobs.models.jobs.FINISHED_AT): the
page's one aggregate query (state = 'failed', the window's range) reads that range, and
so do the list's capped state counts behind a group's link (state IN the finished
states). Without it both read every failed (or finished) job of the scope through
job_account_state: 40 ms at 200k jobs on SQLite, growing with the table (bench/pages.py,
case "failures"). Both SQLite (3.9+, indexes on expressions) and PostgreSQL serve it.

Depends on 0013 because 0014 (audit) is not on main yet; it is renumbered at merge.
"""

from django.db import migrations, models
from django.db.models.functions import Coalesce


class Migration(migrations.Migration):
    dependencies = [("jobs", "0013_search_fts")]

    operations = [
        migrations.AddIndex(
            model_name="job",
            index=models.Index(
                models.F("state"),
                Coalesce("finished_at", "tracked_at"),
                name="job_state_finished",
            ),
        ),
    ]
