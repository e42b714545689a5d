"""The account health page, under /accounts/."""

from django.urls import path

from dashboard.accounts import views

urlpatterns = [
    path("", views.account_health, name="account-health"),
    path("<uuid:code>/notifications/", views.account_notifications, name="account-notifications"),
]
