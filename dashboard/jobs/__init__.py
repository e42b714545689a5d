"""The job pages: the list, a job's page and its files, tracking task IDs, submitting."""
