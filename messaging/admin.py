"""Admin: staff moderate reported messages (resolve reports, tombstone a message)."""

from django.contrib import admin
from django.utils import timezone

from .models import Conversation, ConversationMember, Message, MessageReport
from .services import message_report_resolve


class MemberInline(admin.TabularInline):
    model = ConversationMember
    extra = 0
    raw_id_fields = ("user",)
    readonly_fields = ("joined_at",)


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "owner_kind", "owner_id", "created_at", "last_message_at")
    list_filter = ("kind",)
    search_fields = ("=id", "owner_id", "direct_key")
    inlines = [MemberInline]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("id", "conversation", "sender", "created_at", "edited_at", "deleted_at")
    list_filter = ("deleted_at",)
    search_fields = ("=id", "body")
    raw_id_fields = ("conversation", "sender")
    readonly_fields = ("created_at", "client_msg_id")
    actions = ["tombstone"]

    @admin.action(description="Delete (tombstone: clear body and image)")
    def tombstone(self, request, queryset):
        now = timezone.now()
        for message in queryset.filter(deleted_at__isnull=True):
            if message.image:
                message.image.delete(save=False)
            message.body = ""
            message.deleted_at = now
            message.save(update_fields=["body", "image", "deleted_at"])


@admin.register(MessageReport)
class MessageReportAdmin(admin.ModelAdmin):
    list_display = ("id", "message", "reporter", "reason", "created_at", "resolved")
    list_filter = ("resolved",)
    raw_id_fields = ("message", "reporter")
    readonly_fields = ("created_at", "resolved_at")
    actions = ["resolve"]

    @admin.action(description="Mark resolved")
    def resolve(self, request, queryset):
        for report in queryset.filter(resolved=False):
            message_report_resolve(report=report)
