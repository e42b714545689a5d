"""The site: one include per area of pages, the login, the API and the admin."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

urlpatterns = [
    path("", include("dashboard.jobs.urls")),
    path("", include("dashboard.sharing.urls")),
    path("failures/", include("dashboard.failures.urls")),
    path("accounts/", include("dashboard.accounts.urls")),
    path(
        "login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/", include("dashboard.api.urls")),
    path("alerts/", include("dashboard.alerts.urls")),
    path("audit/", include("dashboard.audit.urls")),
    path("bulk/", include("dashboard.bulk.urls")),
    path("hooks/", include("dashboard.hooks.urls")),
    path("admin/", admin.site.urls),
]

handler403 = "dashboard.errors.permission_denied"
