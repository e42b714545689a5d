"""Alert rules and deliveries, under /alerts/."""

from django.urls import path

from dashboard import alert_views

urlpatterns = [
    path("", alert_views.alert_rules, name="alert-rules"),
    path("new/", alert_views.alert_rule_create, name="alert-rule-create"),
    path("<uuid:code>/", alert_views.alert_rule_edit, name="alert-rule-edit"),
    path("<uuid:code>/delete/", alert_views.alert_rule_delete, name="alert-rule-delete"),
    path("<uuid:code>/test/", alert_views.alert_rule_test, name="alert-rule-test"),
    path("<uuid:code>/deliveries/", alert_views.alert_deliveries, name="alert-deliveries"),
]
