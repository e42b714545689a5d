"""Alert rules and deliveries (being written)."""

urlpatterns: list = []
