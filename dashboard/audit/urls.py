"""The audit log's page."""

from django.urls import path

from dashboard.audit import views

urlpatterns = [path("", views.audit_log, name="audit-log")]
