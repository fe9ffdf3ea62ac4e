"""The OpenAPI documentation of the bonus endpoints, kept out of bonuses/views.py.

Applied to the view classes when the app is ready (BonusesConfig), so the views read as
parse → service → response and the examples live beside each other. Error answers follow the
one shape (pepbridge.api.schema.ErrorSerializer), declared as status → description.
"""

from __future__ import annotations

from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema,
    extend_schema_serializer,
    extend_schema_view,
)

from bonuses.views import AssignBonusView, BonusListView
from pepbridge.api.schema import OPERATOR_API_TAGS, PEP_AUTH_ERRORS, error_examples, error_responses

extend_schema_serializer(component_name="AssignBonusInput")(AssignBonusView.InputSerializer)
extend_schema_serializer(component_name="AssignBonusAccepted")(AssignBonusView.OutputSerializer)
extend_schema_serializer(component_name="Bonus")(BonusListView.OutputSerializer)
extend_schema_serializer(component_name="BonusPage")(BonusListView.PageSerializer)

_ASSIGN_ERRORS = {
    400: "Invalid request (recorded for staff)",
    **PEP_AUTH_ERRORS,
    409: "requestId reused with a different body",
    429: "Throttled",
}
_LIST_ERRORS = {400: "Invalid filter", **PEP_AUTH_ERRORS, 429: "Throttled"}

_UNKNOWN_BONUS = OpenApiExample(
    "Unknown bonus",
    status_codes=["400"],
    response_only=True,
    value={
        "statusCode": 400,
        "error": "Bad Request",
        "message": "Some fields are invalid.",
        "errors": {"bonusId": ["Unknown bonus 'WELCOME-99'."]},
    },
)
_CONFLICT = OpenApiExample(
    "requestId reused with another body",
    status_codes=["409"],
    response_only=True,
    value={
        "statusCode": 409,
        "error": "Conflict",
        "message": "requestId 'r-1' was accepted before with a different body.",
        "errors": {"requestId": ["Already used with a different body."]},
    },
)

extend_schema_view(
    post=extend_schema(
        operation_id="assign_bonus",
        tags=OPERATOR_API_TAGS,
        request=AssignBonusView.InputSerializer,
        responses={202: AssignBonusView.OutputSerializer, **error_responses(_ASSIGN_ERRORS)},
        examples=[
            OpenApiExample(
                "One player",
                request_only=True,
                value={
                    "requestId": "9d7c2f6e-1c1b-4c57-a1e4-0a3f1c6b2d11",
                    "eventDate": "2026-05-01T12:00:00.000Z",
                    "playerId": "demo-1001",
                    "bonusOfferId": "CASH10",
                },
            ),
            OpenApiExample(
                "Accepted",
                status_codes=["202"],
                response_only=True,
                value={"requestId": "9d7c2f6e-1c1b-4c57-a1e4-0a3f1c6b2d11", "status": "accepted"},
            ),
            _UNKNOWN_BONUS,
            _CONFLICT,
            *error_examples(401, 403, 429),
        ],
    )
)(AssignBonusView)

extend_schema_view(
    get=extend_schema(
        operation_id="list_bonuses",
        tags=OPERATOR_API_TAGS,
        parameters=[BonusListView.FilterSerializer],
        responses={200: BonusListView.PageSerializer, **error_responses(_LIST_ERRORS)},
        examples=[
            OpenApiExample(
                "A page",
                status_codes=["200"],
                response_only=True,
                value={
                    "items": [
                        {
                            "bonusId": "CASH10",
                            "bonusOfferId": "CASH10",
                            "name": "10 EUR cash",
                            "description": "",
                            "type": "cash",
                            "amount": 10.0,
                            "percentage": None,
                            "currency": "EUR",
                            "wageringRequirement": 30.0,
                            "validFrom": None,
                            "validTo": None,
                            "expiresAfterDays": 7,
                            "maxGrantsPerPlayer": 1,
                            "active": True,
                            "amountOverrideAllowed": False,
                            "minAmountPerGrant": None,
                            "maxAmountPerGrant": None,
                        }
                    ],
                    "page": 1,
                    "limit": 100,
                    "total": 1,
                    "hasNext": False,
                },
            ),
            *error_examples(400, 401, 403, 429),
        ],
    )
)(BonusListView)
