"""The job pages, at the site's root."""

from django.urls import path

from dashboard.downloads import subtitle_routes
from dashboard.jobs import saved, views

urlpatterns = [
    path("", views.job_list, name="job-list"),
    path("jobs.csv", views.job_list_csv, name="job-list-csv"),
    path("jobs/<uuid:code>/", views.job_detail, name="job-detail"),
    path("jobs/<uuid:code>/events/", views.job_events, name="job-events"),
    path("jobs/<uuid:code>/payload.json", views.job_payload, name="job-payload"),
    path("jobs/<uuid:code>/refresh/", views.job_refresh, name="job-refresh"),
    path("jobs/<uuid:code>/watch/", views.job_watch, name="job-watch"),
    path("jobs/<uuid:code>/cancel/", views.job_cancel, name="job-cancel"),
    path("jobs/<uuid:code>/resubmit/", views.job_resubmit, name="job-resubmit"),
    *subtitle_routes("jobs/<uuid:code>/", "job", views.job_srt, views.job_vtt),
    path("jobs/<uuid:code>/media-check/", views.job_media_check, name="job-media-check"),
    path("views/", saved.saved_view_save, name="saved-view-save"),
    path("views/<uuid:code>/delete/", saved.saved_view_remove, name="saved-view-delete"),
    path("track/", views.track, name="track"),
    path("submit/voice-separation/", views.submit_voice_separation, name="submit-voice-separation"),
]
