"""Staff pages: the inbox (decoded, personal data masked), fulfilments, product mappings."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from pepbridge.backoffice.admin_tools import (
    AppendOnlyMixin,
    BigListMixin,
    change_link,
    may_see_personal_data,
)
from pepbridge.backoffice.models import StaffAction
from pepbridge.backoffice.services import staff_action_record
from players.admin import PlayerSection, add_player_section
from players.models import Player
from webhooks import fulfilment, processing
from webhooks.decoding import decode_payload, display
from webhooks.models import (
    Fulfilment,
    InboxEvent,
    ProductMapping,
    RewardsCursor,
    WebhookDelivery,
)
from webhooks.selectors import loyalty_lines

MASK = "***"
HIDDEN = "[hidden: may hold personal data; Support and Admins can see it]"
FULFIL_NOW = StaffAction.Kind.FULFIL_NOW
RETRY_EVENTS = StaffAction.Kind.WEBHOOK_RETRY
_KEPT_KEYS = frozenset({"PlayerId"})


def payload_table(payload: Any, *, see_all: bool) -> str:
    """The decoded items as a table; unless `see_all`, values other than PlayerId masked."""
    rows = []
    for item in decode_payload(payload).values():
        value = display(item) if see_all or item.key in _KEPT_KEYS else MASK
        rows.append((item.key, item.type, value, item.error))
    if not rows:
        return "(no items)"
    body = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", rows)
    return format_html(
        "<table><tr><th>key</th><th>type</th><th>value</th><th>not decoded</th></tr>{}</table>",
        body,
    )


class SplitFilter(admin.SimpleListFilter):
    """Deliveries whose events are not in the inbox yet: the worker's queue (webhooks.md §4)."""

    title = "events in the inbox"
    parameter_name = "split"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("no", "Not yet (waiting for the worker)"), ("yes", "Yes")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() in ("no", "yes"):
            return queryset.filter(split_at__isnull=self.value() == "no")
        return queryset


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(AppendOnlyMixin, BigListMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "received_at",
        "remote_addr",
        "key_slot",
        "signed_form",
        "event_count",
        "new_event_count",
        "split_at",
    )
    list_filter = (SplitFilter, "signed_form", "key_slot")
    ordering = ("-id",)
    base_fields = (
        "received_at",
        "remote_addr",
        "timestamp_header",
        "signed_at",
        "key_slot",
        "signed_form",
        "event_count",
        "new_event_count",
        "split_at",
    )

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        body = "body_shown" if may_see_personal_data(request) else "body_hidden"
        return (*self.base_fields, body)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return self.get_fields(request, obj)

    @admin.display(description="body (as received)")
    def body_shown(self, obj: WebhookDelivery) -> str:
        return format_html("<pre>{}</pre>", obj.body)

    @admin.display(description="body")
    def body_hidden(self, obj: WebhookDelivery) -> str:
        return HIDDEN


@admin.register(InboxEvent)
class InboxEventAdmin(AppendOnlyMixin, BigListMixin, admin.ModelAdmin):
    list_display = ("id", "event_name", "player_ref", "event_date", "status", "duplicate_count")
    list_filter = ("status", "event_name")
    search_fields = ("=player_ref",)
    search_help_text = "Exact PEP player id."
    ordering = ("-id",)
    list_select_related = ("delivery",)
    base_fields = (
        "event_name",
        "player_ref",
        "event_date",
        "status",
        "error",
        "attempts",
        "duplicate_count",
        "received_at",
        "processed_at",
        "delivery_link",
    )
    actions = ("retry_selected",)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        payload = "payload_decoded" if may_see_personal_data(request) else "payload_masked"
        return (*self.base_fields, payload)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return self.get_fields(request, obj)

    @admin.display(description="delivery")
    def delivery_link(self, obj: InboxEvent) -> str:
        return change_link(obj.delivery)

    @admin.display(description="payload (decoded)")
    def payload_decoded(self, obj: InboxEvent) -> str:
        return payload_table(obj.raw.get("payload"), see_all=True)

    @admin.display(description="payload (values hidden: personal data)")
    def payload_masked(self, obj: InboxEvent) -> str:
        return payload_table(obj.raw.get("payload"), see_all=False)

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("webhooks.change_inboxevent")

    @admin.action(description="Process the selected failed events again", permissions=["retry"])
    def retry_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        events = list(queryset.filter(status=InboxEvent.Status.FAILED)[:1000])
        with transaction.atomic():
            count = processing.inbox_events_retry(event_ids=[e.pk for e in events])
            if events:
                staff_action_record(
                    user=request.user,
                    action=RETRY_EVENTS,
                    objects=events,
                    outcome=f"{count} requeued",
                )
        self.message_user(request, f"{count} event(s) will be processed again.", messages.SUCCESS)


@admin.register(Fulfilment)
class FulfilmentAdmin(AppendOnlyMixin, BigListMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "player_ref",
        "product_id",
        "product_name",
        "status",
        "reason",
        "attempts",
        "created_at",
        "fulfilled_at",
    )
    list_filter = ("status",)
    search_fields = ("=player_ref", "=product_id")
    ordering = ("-id",)
    readonly_fields = ("event_link", "player_bonus_link")
    actions = ("fulfil_now",)

    @admin.display(description="event")
    def event_link(self, obj: Fulfilment) -> str:
        return change_link(obj.event)

    @admin.display(description="player bonus")
    def player_bonus_link(self, obj: Fulfilment) -> str:
        return change_link(obj.player_bonus)

    def has_fulfil_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("webhooks.change_fulfilment")

    @admin.action(description="Fulfil now (mapped and not done)", permissions=["fulfil"])
    def fulfil_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        records = list(queryset.exclude(status=Fulfilment.Status.DONE)[:500])
        with transaction.atomic():
            counts = fulfilment.fulfilments_fulfil(fulfilment_ids=[r.pk for r in records])
            outcome = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
            if records:
                staff_action_record(
                    user=request.user, action=FULFIL_NOW, objects=records, outcome=outcome
                )
        self.message_user(request, f"Fulfil now: {outcome or 'nothing to do'}.", messages.INFO)


@admin.register(ProductMapping)
class ProductMappingAdmin(admin.ModelAdmin):
    list_display = ("pep_product_id", "pep_product_name", "bonus", "enabled", "updated_at")
    list_filter = ("enabled",)
    search_fields = ("pep_product_id", "pep_product_name")
    raw_id_fields = ("bonus",)
    fields = ("pep_product_id", "pep_product_name", "bonus", "enabled")

    def save_model(
        self, request: HttpRequest, obj: ProductMapping, form: Any, change: bool
    ) -> None:
        # Django records the change in the history (LogEntry) with the staff member.
        fulfilment.product_mapping_save(mapping=obj)


@admin.register(RewardsCursor)
class RewardsCursorAdmin(AppendOnlyMixin, admin.ModelAdmin):
    """The rewards poller's state (docs/webhooks.md §9): where it is, when it last worked."""

    list_display = (
        "name",
        "delta",
        "last_polled_at",
        "last_success_at",
        "rewards_seen",
        "bonus_offers_stored",
        "last_error",
    )
    readonly_fields = (*list_display, "next_page", "lease_until")
    exclude = ("recent_requests",)


# The player's page (players.admin) shows the loyalty PEP reported: players may not import webhooks.
@admin.display(description="level, rank, XP and tokens")
def pep_loyalty(obj: Player) -> str:
    lines = loyalty_lines(obj.player_id)
    return format_html_join(mark_safe("<br>"), "{}", ((line,) for line in lines)) or "-"


add_player_section(
    PlayerSection("PEP loyalty (from PEP's webhooks)", pep_loyalty, after="Reconciliation")
)
