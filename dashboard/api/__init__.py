"""The JSON API (/api/v1/, django-ninja) and the page where people manage their API tokens.

auth.py checks the bearer token; schemas.py holds the shapes that validate requests, shape
responses and make up the OpenAPI document; views.py has the endpoints; app.py ties them
into one NinjaAPI; pages.py is the token page; urls.py mounts it all under /api/.
"""

from dashboard.api.schemas import MAX_TRACK_IDS

__all__ = ["MAX_TRACK_IDS"]
