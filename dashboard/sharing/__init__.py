"""Share links: the operator's panel on a job page and the public read-only job page."""
