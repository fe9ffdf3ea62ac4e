"""PEP's bonus endpoints on the operator side: assign-bonus and the bonus list (operator-api §3-4).

Field names and shapes PEP has not published are our choices, listed in docs/contract.md.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import serializers, status
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from bonuses import selectors, services
from bonuses.models import BonusType
from pepbridge.api.authentication import client_key, sender_of
from pepbridge.api.exceptions import ApiError
from pepbridge.api.fields import StrictCharField, WireDateTimeField
from pepbridge.api.parsers import body_for_the_record
from pepbridge.api.permissions import RequiresPepScope
from players.serializers import PlayerIdField


class AssignBonusView(APIView):
    """`POST /api/bonus/v1/assign-bonus`: store PEP's request and answer 202; a worker grants."""

    permission_classes = [RequiresPepScope]

    class InputSerializer(serializers.Serializer):
        requestId = StrictCharField(max_length=128)
        eventDate = WireDateTimeField()
        playerId = PlayerIdField(required=False)
        playerIds = serializers.ListField(
            child=PlayerIdField(), required=False, allow_empty=False, min_length=1
        )
        bonusId = StrictCharField(max_length=64, required=False)
        bonusOfferId = StrictCharField(max_length=64, required=False)
        amount = serializers.DecimalField(
            max_digits=18, decimal_places=4, min_value=0, required=False
        )
        currency = serializers.RegexField(r"^[A-Z]{3}$", required=False)
        # The wire name is the contract's; it shadows Field.source only for the type checker.
        source = StrictCharField(  # type: ignore[assignment]
            max_length=64, required=False, allow_blank=True
        )
        metadata = serializers.DictField(required=False)

        def validate_playerIds(self, value: list[str]) -> list[str]:
            limit = settings.BONUS_ASSIGN_MAX_PLAYERS
            if len(value) > limit:
                raise serializers.ValidationError(f"At most {limit} players per request.")
            return list(dict.fromkeys(value))  # PEP's duplicates name one player once

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            players = _one_of(attrs, "playerId", "playerIds")
            bonus = _one_of(attrs, "bonusId", "bonusOfferId")
            return {
                "request_id": attrs["requestId"],
                "event_date": attrs["eventDate"],
                "player_ids": tuple(players if isinstance(players, list) else [players]),
                "bonus_ref": bonus,
                "amount": attrs.get("amount"),
                "currency": attrs.get("currency", ""),
                "source": attrs.get("source", ""),
            }

    class OutputSerializer(serializers.Serializer):
        requestId = serializers.CharField(source="request_id")
        status = serializers.CharField()

    def post(self, request: Request) -> Response:
        client, sender = client_key(request), sender_of(request)
        raw = request.body  # read first: DRF cannot hand it back after a failed parse
        try:
            body: Any = request.data  # JSON of any shape, or the raw text when it is not JSON
        except ParseError:
            body = body_for_the_record(raw, 10_000)
            services.assignment_reject(
                client_key=client, sender=sender, body=body, errors={"body": ["bad JSON"]}
            )
            raise
        data = self.InputSerializer(data=body)
        if not data.is_valid():
            # A JSON `null` body is kept as its text: the record's body column takes no NULL.
            kept = body if body is not None else body_for_the_record(raw, 10_000)
            services.assignment_reject(
                client_key=client, sender=sender, body=kept, errors=data.errors
            )
            raise ValidationError(data.errors)
        request_data = services.AssignRequest(**data.validated_data)
        try:
            services.assignment_accept(
                client_key=client, sender=sender, request=request_data, body=body
            )
        except services.AssignmentInvalid as exc:
            raise ValidationError(exc.errors) from None
        except services.AssignmentConflictError as exc:
            message = f"requestId {exc.assignment.request_id!r} was accepted with another body."
            errors = {"requestId": ["Already used with a different body."]}
            raise ApiError(409, message, errors) from exc
        # The shape of OutputSerializer, built directly: this is the path PEP's latency is on.
        output = {"requestId": request_data.request_id, "status": "accepted"}
        return Response(output, status=status.HTTP_202_ACCEPTED)


def _one_of(attrs: dict[str, Any], first: str, second: str) -> Any:
    """PEP may name a value under either of two keys; both given must agree."""
    if first in attrs and second in attrs and attrs[first] != attrs[second]:
        raise ValidationError({second: [f"Give {first} or {second}, not two different values."]})
    if first not in attrs and second not in attrs:
        raise ValidationError({first: [f"Give {first} or {second}."]})
    return attrs.get(first, attrs.get(second))


class BonusListView(APIView):
    """`GET /api/bonus/v1/bonuses`: the catalogue PEP's admins pick bonuses from."""

    permission_classes = [RequiresPepScope]

    class FilterSerializer(serializers.Serializer):
        search = serializers.CharField(required=False, max_length=100)
        type = serializers.ChoiceField(choices=BonusType.choices, required=False)
        currency = serializers.RegexField(r"^[A-Z]{3}$", required=False)
        active = serializers.BooleanField(required=False, allow_null=True, default=None)
        # Bounded so page * limit stays a valid SQL offset (a 2**57 page was a 500).
        page = serializers.IntegerField(
            required=False, min_value=1, max_value=selectors.MAX_PAGE, default=1
        )
        limit = serializers.IntegerField(
            required=False, min_value=1, max_value=selectors.MAX_PAGE_SIZE, default=100
        )

    class OutputSerializer(serializers.Serializer):
        bonusId = serializers.CharField(source="bonus_id")
        bonusOfferId = serializers.CharField(source="bonus_id")
        name = serializers.CharField()
        description = serializers.CharField()
        type = serializers.CharField(source="bonus_type")
        amount = serializers.DecimalField(max_digits=18, decimal_places=4, coerce_to_string=False)
        percentage = serializers.DecimalField(
            max_digits=7, decimal_places=2, coerce_to_string=False
        )
        currency = serializers.CharField()
        wageringRequirement = serializers.DecimalField(
            source="wagering_requirement", max_digits=7, decimal_places=2, coerce_to_string=False
        )
        validFrom = serializers.DateTimeField(source="valid_from")
        validTo = serializers.DateTimeField(source="valid_to")
        expiresAfterDays = serializers.IntegerField(source="expires_after_days")
        maxGrantsPerPlayer = serializers.IntegerField(source="max_grants_per_player")
        active = serializers.BooleanField(source="is_active")
        # The per-grant limits decide PEP's request at accept (a 400): shown so PEP's admins do
        # not configure an amount the bridge refuses. The daily caps and budget are the
        # operator's own risk controls, decided at grant time: not shown (docs/contract.md).
        amountOverrideAllowed = serializers.BooleanField(source="amount_override_allowed")
        minAmountPerGrant = serializers.DecimalField(
            source="min_amount_per_grant", max_digits=18, decimal_places=4, coerce_to_string=False
        )
        maxAmountPerGrant = serializers.DecimalField(
            source="max_amount_per_grant", max_digits=18, decimal_places=4, coerce_to_string=False
        )

    class PageSerializer(serializers.Serializer):
        items = serializers.ListField(child=serializers.DictField())
        page = serializers.IntegerField()
        limit = serializers.IntegerField()
        total = serializers.IntegerField()
        hasNext = serializers.BooleanField()

    def get(self, request: Request) -> Response:
        # A plain dict, not the QueryDict: DRF reads an empty form value (`?type=`) as absent,
        # so `?type=` or `?page=` was accepted although the schema allows neither.
        filters = self.FilterSerializer(data=request.query_params.dict())
        filters.is_valid(raise_exception=True)
        params = dict(filters.validated_data)
        page, limit = params.pop("page"), params.pop("limit")
        bonuses = selectors.bonus_list(
            search=params.get("search", ""),
            bonus_type=params.get("type", ""),
            currency=params.get("currency", ""),
            active=params.get("active"),
        )
        result = selectors.bonus_page(bonuses, page=page, limit=limit)
        data = {
            "items": self.OutputSerializer(result.items, many=True).data,
            "page": result.page,
            "limit": result.limit,
            "total": result.total,
            "hasNext": result.has_next,
        }
        return Response(data)
