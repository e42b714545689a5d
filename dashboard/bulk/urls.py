"""The bulk action pages."""

from django.urls import path

from dashboard.bulk import views

urlpatterns = [
    path("", views.bulk_create, name="bulk-create"),
    path("export.csv", views.bulk_export, name="bulk-export"),
    path("<uuid:code>/", views.bulk_detail, name="bulk-detail"),
    path("<uuid:code>/failed/", views.bulk_failed, name="bulk-failed"),
]
