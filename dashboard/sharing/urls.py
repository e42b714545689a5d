"""The share panel under a job's URL, and the public pages under /s/<token>/."""

from django.urls import path

from dashboard.sharing import views

urlpatterns = [
    path("jobs/<uuid:code>/share/", views.share_links, name="share-links"),
    path("jobs/<uuid:code>/share/<uuid:link>/revoke/", views.share_revoke, name="share-revoke"),
    path("s/<str:token>/", views.shared_job, name="shared-job"),
    path("s/<str:token>/subtitles.srt", views.shared_srt, name="shared-srt"),
    path(
        "s/<str:token>/subtitles.vtt",
        views.shared_vtt,
        {"source": "subtitles"},
        name="shared-subtitles-vtt",
    ),
    path("s/<str:token>/words.vtt", views.shared_vtt, {"source": "words"}, name="shared-words-vtt"),
]
