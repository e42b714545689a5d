"""The Failures page, under /failures/."""

from django.urls import path

from dashboard.failures import views

urlpatterns = [
    path("", views.failures, name="failures"),
]
