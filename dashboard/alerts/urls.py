"""Alert rules and deliveries, under /alerts/."""

from django.urls import path

from dashboard.alerts import views

urlpatterns = [
    path("", views.alert_rules, name="alert-rules"),
    path("new/", views.alert_rule_create, name="alert-rule-create"),
    path("<uuid:code>/", views.alert_rule_edit, name="alert-rule-edit"),
    path("<uuid:code>/delete/", views.alert_rule_delete, name="alert-rule-delete"),
    path("<uuid:code>/test/", views.alert_rule_test, name="alert-rule-test"),
    path("<uuid:code>/deliveries/", views.alert_deliveries, name="alert-deliveries"),
]
