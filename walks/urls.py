"""Routes of walks (with or without trailing slash); meet-now, introductions, meetups and alerts follow."""

from core.routing import path_slash_optional as p

from . import views

WALK = r"(?P<walk_id>[^/]{1,32})"
MEET = r"(?P<meet_id>[^/]{1,32})"
MEETUP = r"(?P<meetup_id>[^/]{1,32})"
INTRO = r"(?P<intro_id>[^/]{1,32})"
ALERT = r"(?P<alert_id>[^/]{1,32})"

urlpatterns = [
    p(r"api/walks/request", views.WalkRequestView.as_view(), "walks-request"),
    p(r"api/walks/history", views.WalkHistoryView.as_view(), "walks-history"),
    p(r"api/walks/availability", views.WalkAvailabilityView.as_view(), "walks-availability"),
    p(rf"api/walks/{WALK}/accept", views.WalkAcceptView.as_view(), "walks-accept"),
    p(rf"api/walks/{WALK}/decline", views.WalkDeclineView.as_view(), "walks-decline"),
    p(rf"api/walks/{WALK}/start", views.WalkStartView.as_view(), "walks-start"),
    p(rf"api/walks/{WALK}/end", views.WalkEndView.as_view(), "walks-end"),
    p(rf"api/walks/{WALK}/cancel", views.WalkCancelView.as_view(), "walks-cancel"),
    p(rf"api/walks/{WALK}/suggestions", views.WalkSuggestionsView.as_view(), "walks-suggestions"),
    p(rf"api/walks/{WALK}", views.WalkDetailView.as_view(), "walks-detail"),
    p(r"api/meet_now", views.MeetNowView.as_view(), "meet-now"),
    p(rf"api/meet_now/{MEET}/accept", views.MeetNowAcceptView.as_view(), "meet-now-accept"),
    p(rf"api/meet_now/{MEET}/decline", views.MeetNowDeclineView.as_view(), "meet-now-decline"),
    p(rf"api/meet_now/{MEET}/cancel", views.MeetNowCancelView.as_view(), "meet-now-cancel"),
    p(r"api/meetups", views.MeetupListView.as_view(), "meetups"),
    p(rf"api/meetups/{MEETUP}/end", views.MeetupEndView.as_view(), "meetups-end"),
    p(rf"api/meetups/{MEETUP}/cancel", views.MeetupCancelView.as_view(), "meetups-cancel"),
    p(rf"api/meetups/{MEETUP}/leave", views.MeetupLeaveView.as_view(), "meetups-leave"),
    p(rf"api/meetups/{MEETUP}", views.MeetupDetailView.as_view(), "meetups-detail"),
    p(r"api/request_introduction", views.IntroductionRequestView.as_view(), "introductions-request"),
    p(r"api/introductions", views.IntroductionListView.as_view(), "introductions"),
    p(rf"api/introductions/{INTRO}/forward", views.IntroductionForwardView.as_view(), "introductions-forward"),
    p(rf"api/introductions/{INTRO}/decline", views.IntroductionDeclineView.as_view(), "introductions-decline"),
    p(rf"api/introductions/{INTRO}/accept", views.IntroductionAcceptView.as_view(), "introductions-accept"),
    p(r"api/proximity_alerts", views.ProximityAlertsView.as_view(), "proximity-alerts"),
    p(rf"api/proximity_alerts/{ALERT}/accept", views.ProximityAcceptView.as_view(), "proximity-alerts-accept"),
    p(rf"api/proximity_alerts/{ALERT}", views.ProximityAlertView.as_view(), "proximity-alerts-detail"),
]
