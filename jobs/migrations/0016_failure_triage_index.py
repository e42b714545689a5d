"""The Failures page's window: failed jobs by when they finished, without reading the rest.

`job_state_finished` indexes (state, COALESCE(finished_at, tracked_at)), the expression the
page and the job list's finished filter compare (jobs.models.jobs.FINISHED_AT): the
page's one aggregate query (state = 'failed', the window's range) reads that range, and
so do the list's capped state counts behind a group's link (state IN the finished
states). Without it both read every failed (or finished) job of the scope through
job_account_state: 40 ms at 200k jobs on SQLite, growing with the table. With it
(bench/pages.py, case "failures", 10k / 1M jobs, medians): the page's 24 h 7.9 / 19.2 ms on
SQLite, 22.9 / 15.3 ms on PostgreSQL (goal <= 100 ms at 1M); its 7 days 8.7 / 96 ms and
12 / 102 ms (the window's ~30k failed rows are read from the table, ~24k heap blocks on
PostgreSQL); the list behind the largest 24 h group 9.0 / 94 ms and 27 / 46 ms. Both SQLite
(3.9+, indexes on expressions) and PostgreSQL use it with bound parameters.

Written as 0015 after 0013; renumbered 0016, after 0014 (audit) and 0015 (saved views), at merge.
"""

from django.db import migrations, models
from django.db.models.functions import Coalesce


class Migration(migrations.Migration):
    dependencies = [("jobs", "0015_saved_views")]

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
