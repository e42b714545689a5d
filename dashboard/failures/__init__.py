"""The Failures page: failed jobs grouped by provider and failure code, in a time window."""
