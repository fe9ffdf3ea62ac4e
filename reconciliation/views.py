"""PEP's reconciliation request and migration feedback webhook, and the staff CSV export.

The reconciliation request's shape is ours (PEP publishes none): docs/contract.md describes it.
Both PEP endpoints record every request, malformed ones included, before answering.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, time, timedelta
from typing import Any, ClassVar, NoReturn

from django.conf import settings
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.exceptions import BadRequest, RequestDataTooBig
from django.db.models import QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.views import View
from rest_framework import serializers, status
from rest_framework.exceptions import ParseError, UnsupportedMediaType, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from pepbridge.api.authentication import client_label
from pepbridge.api.exceptions import ApiError
from pepbridge.api.fields import StrictCharField, WireDateTimeField
from pepbridge.api.parsers import body_for_the_record
from pepbridge.api.permissions import RequiresPepScope
from players.serializers import PlayerIdField
from reconciliation import export, selectors, services
from reconciliation.models import AuditStep, ReconciliationRequest

Source = ReconciliationRequest.Source
Outcome = ReconciliationRequest.Outcome
RAW_BODY_KEPT = 10_000  # characters of an unparseable body kept in the trail


class _RecordedView(APIView):
    """Parse and validate the body; a refused body is recorded before the 400 goes out."""

    permission_classes = [RequiresPepScope]
    source: ClassVar[str]
    InputSerializer: ClassVar[type[serializers.Serializer]]

    def validated(self, request: Request) -> tuple[dict[str, Any], Any]:
        cause = services.cause_pep(client_label(request))
        self._refuse_too_large(request, cause)
        try:
            raw = request.body  # read first: DRF cannot hand it back after a failed parse
        except RequestDataTooBig:  # over DATA_UPLOAD_MAX_MEMORY_SIZE, e.g. sent without a length
            self._too_large(settings.DATA_UPLOAD_MAX_MEMORY_SIZE, None, cause)
        try:
            body = request.data
        except (ParseError, UnsupportedMediaType) as exc:
            text = body_for_the_record(raw, RAW_BODY_KEPT)
            errors = {"body": [str(exc.detail)]}
            services.request_reject(
                source=self.source, payload={"raw": text}, errors=errors, cause=cause
            )
            raise
        data = self.InputSerializer(data=body)
        if not data.is_valid():
            services.request_reject(
                source=self.source, payload=body, errors=data.errors, cause=cause
            )
            raise ValidationError(data.errors)
        return data.validated_data, body

    def _refuse_too_large(self, request: Request, cause: str) -> None:
        """413 for a body whose Content-Length is over RECONCILIATION_MAX_BODY_BYTES."""
        try:
            size = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            size = 0
        if size > settings.RECONCILIATION_MAX_BODY_BYTES:
            self._too_large(settings.RECONCILIATION_MAX_BODY_BYTES, size, cause)

    def _too_large(self, limit: int, size: int | None, cause: str) -> NoReturn:
        """Record the refusal (without the body, which is never read) and answer 413."""
        message = f"The body is larger than {limit} bytes."
        errors = {"body": [message]}
        services.request_reject(
            source=self.source, payload={"raw": "", "bytes": size}, errors=errors, cause=cause
        )
        raise ApiError(413, message, errors)


class PlayerFieldsSerializer(serializers.Serializer):
    playerId = PlayerIdField(max_length=128)
    missingFields = serializers.ListField(
        child=StrictCharField(max_length=100), min_length=1, max_length=100
    )


class ReconciliationView(_RecordedView):
    """`POST /api/reconciliation/v1/players`: PEP reports players with missing fields; 202."""

    source = Source.API

    class InputSerializer(serializers.Serializer):
        requestId = StrictCharField(max_length=200)
        eventDate = WireDateTimeField()
        # many=True hands min_length to the ListSerializer; the stubs type only the child's.
        players = PlayerFieldsSerializer(  # type: ignore[call-arg]
            many=True, allow_empty=False, min_length=1
        )

        def validate_players(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
            limit = settings.RECONCILIATION_MAX_PLAYERS
            if len(value) > limit:
                raise serializers.ValidationError(f"At most {limit} players per request.")
            most = settings.RECONCILIATION_MAX_ITEMS
            if sum(len(p["missingFields"]) for p in value) > most:
                raise serializers.ValidationError(f"At most {most} missingFields per request.")
            return [{"player_id": p["playerId"], "fields": p["missingFields"]} for p in value]

    class OutputSerializer(serializers.Serializer):
        requestId = serializers.CharField()
        status = serializers.ChoiceField(choices=["accepted", "duplicate"])

    def post(self, request: Request) -> Response:
        data, body = self.validated(request)
        receipt = services.reconciliation_receive(
            request_id=data["requestId"],
            event_date=data["eventDate"],
            players=data["players"],
            payload=body,
            cause=services.cause_pep(client_label(request)),
        )
        if receipt.outcome == Outcome.CONFLICT:
            raise ApiError(
                409,
                f"requestId {data['requestId']!r} was accepted before with a different body.",
                {"requestId": ["already used with a different body"]},
            )
        answer = {"requestId": data["requestId"], "status": receipt.outcome}
        return Response(answer, status=status.HTTP_202_ACCEPTED)


class MigrationFeedbackView(_RecordedView):
    """`POST /api/players/v1/migration/feedback`: PEP's bulk migration result; 204 (operator §6).

    The details are downloaded by a django-q2 task, never in the request.
    """

    source = Source.FEEDBACK

    class InputSerializer(serializers.Serializer):
        migrationTasksId = StrictCharField(max_length=200)
        errorsTotal = serializers.IntegerField(min_value=0)
        detailsURL = serializers.URLField(max_length=2000, required=False, allow_blank=True)

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            if attrs["errorsTotal"] > 0 and not attrs.get("detailsURL"):
                raise serializers.ValidationError(
                    {"detailsURL": ["Required when errorsTotal > 0."]}
                )
            return attrs

    def post(self, request: Request) -> Response:
        data, body = self.validated(request)
        services.feedback_receive(
            tasks_id=data["migrationTasksId"],
            errors_total=data["errorsTotal"],
            details_url=data.get("detailsURL", ""),
            payload=body,
            cause=services.cause_pep(client_label(request)),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


def _moment(value: str | None, *, end: bool = False) -> datetime | None:
    """An ISO date (a whole day; `end` takes the next midnight) or datetime from a query string."""
    if not value:
        return None
    try:
        day, moment = parse_date(value), parse_datetime(value)
    except ValueError:
        day = moment = None
    if day is not None:
        try:
            moment = datetime.combine(day, time.min) + timedelta(days=1 if end else 0)
        except OverflowError:  # until=9999-12-31: the next midnight is past the calendar,
            moment = datetime.max.replace(tzinfo=UTC)  # so the period runs to its end
    if moment is None:
        raise BadRequest(f"{value!r} is not an ISO date or datetime")
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)


class AuditExportView(PermissionRequiredMixin, View):
    """CSV of the trail as the audit step list shows it (staff with reconciliation.export_audit).

    Every filter, search and lookup of the admin list applies, through the list's own filtering
    (AuditStepAdmin.listed_steps), plus `?since=&until=&player=` for links written by hand.
    Streamed oldest first, row by row from a chunked cursor, so a year of records never sits in
    memory.
    """

    permission_required = "reconciliation.export_audit"
    raise_exception = True
    model_admin: Any = None  # the AuditStepAdmin that serves this view (set in its get_urls)
    OWN_PARAMS = ("since", "until", "player")

    def get(self, request: HttpRequest) -> StreamingHttpResponse:
        if not request.user.is_staff:
            self.handle_no_permission()
        player_id = (request.GET.get("player") or request.GET.get("q") or "").strip() or None
        steps = selectors.audit_steps(
            since=_moment(request.GET.get("since")),
            until=_moment(request.GET.get("until"), end=True),
            player_id=request.GET.get("player", "").strip() or None,
            steps=self._listed(request),
        )
        response = StreamingHttpResponse(export.csv_lines(steps), content_type="text/csv")
        name = export.file_name(player_id)
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response

    def _listed(self, request: HttpRequest) -> QuerySet[AuditStep]:
        """The list's steps for the query string without this view's own parameters."""
        listed = copy.copy(request)
        query = request.GET.copy()  # a mutable copy, which the stubs' GET type does not allow
        for name in self.OWN_PARAMS:
            query.pop(name, None)
        listed.GET = query  # type: ignore[assignment]
        try:
            return self.model_admin.listed_steps(listed)
        except IncorrectLookupParameters as exc:
            raise BadRequest(f"not a filter of the audit step list: {exc}") from None
