from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from dashboard import share_views, views

urlpatterns = [
    path("", views.job_list, name="job-list"),
    path("jobs/<uuid:code>/", views.job_detail, name="job-detail"),
    path("jobs/<uuid:code>/refresh/", views.job_refresh, name="job-refresh"),
    path("jobs/<uuid:code>/watch/", views.job_watch, name="job-watch"),
    path("jobs/<uuid:code>/subtitles.srt", views.job_srt, name="job-srt"),
    path(
        "jobs/<uuid:code>/subtitles.vtt",
        views.job_vtt,
        {"source": "subtitles"},
        name="job-subtitles-vtt",
    ),
    path("jobs/<uuid:code>/words.vtt", views.job_vtt, {"source": "words"}, name="job-words-vtt"),
    path("jobs/<uuid:code>/media-check/", views.job_media_check, name="job-media-check"),
    path("jobs/<uuid:code>/share/", share_views.share_links, name="share-links"),
    path(
        "jobs/<uuid:code>/share/<uuid:link>/revoke/",
        share_views.share_revoke,
        name="share-revoke",
    ),
    path("s/<str:token>/", share_views.shared_job, name="shared-job"),
    path("s/<str:token>/subtitles.srt", share_views.shared_srt, name="shared-srt"),
    path(
        "s/<str:token>/subtitles.vtt",
        share_views.shared_vtt,
        {"source": "subtitles"},
        name="shared-subtitles-vtt",
    ),
    path(
        "s/<str:token>/words.vtt",
        share_views.shared_vtt,
        {"source": "words"},
        name="shared-words-vtt",
    ),
    path("track/", views.track, name="track"),
    path("submit/voice-separation/", views.submit_voice_separation, name="submit-voice-separation"),
    path("accounts/", views.account_health, name="account-health"),
    path(
        "login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/", include("dashboard.api.urls")),
    path("alerts/", include("dashboard.alert_urls")),
    path("admin/", admin.site.urls),
]

handler403 = "dashboard.errors.permission_denied"
