"""The JSON API (being written)."""

urlpatterns: list = []
