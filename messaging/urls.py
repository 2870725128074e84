"""Routes of messaging (with or without trailing slash)."""

from core.routing import path_slash_optional as p

from . import views

MSG = r"(?P<message_id>[0-9]{1,18})"
#: A user id is a UUID (with or without hyphens); anything else is 404, and never a message id.
USER = r"(?P<user_id>[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12})"

urlpatterns = [
    p(r"api/messages", views.MessagesView.as_view(), "messages"),
    p(rf"api/messages/{MSG}/read", views.MessageReadView.as_view(), "message-read"),
    p(rf"api/messages/{MSG}/report", views.MessageReportView.as_view(), "message-report"),
    p(rf"api/messages/{MSG}", views.MessageDetailView.as_view(), "message-detail"),
    p(rf"api/messages/{USER}", views.DirectHistoryView.as_view(), "messages-direct"),
    p(r"api/conversations", views.ConversationsView.as_view(), "conversations"),
    p(
        r"api/conversations/(?P<conversation_id>[0-9]{1,18})/messages",
        views.ConversationMessagesView.as_view(),
        "conversation-messages",
    ),
]
