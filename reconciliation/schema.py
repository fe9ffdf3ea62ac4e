"""The OpenAPI documentation of PEP's reconciliation endpoints, kept out of reconciliation/views.py.

Applied to the view classes when the app is ready (ReconciliationConfig); see bonuses/schema.py.
"""

from __future__ import annotations

from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema,
    extend_schema_serializer,
    extend_schema_view,
)

from pepbridge.api.schema import OPERATOR_API_TAGS, PEP_AUTH_ERRORS, error_examples, error_responses
from reconciliation.views import MigrationFeedbackView, ReconciliationView

extend_schema_serializer(component_name="ReconciliationPlayersRequest")(
    ReconciliationView.InputSerializer
)
extend_schema_serializer(component_name="ReconciliationPlayersAccepted")(
    ReconciliationView.OutputSerializer
)
extend_schema_serializer(component_name="PlayersMigrationFeedback")(
    MigrationFeedbackView.InputSerializer
)

_RECONCILIATION_ERRORS = {
    400: "Malformed request, or more than RECONCILIATION_MAX_ITEMS missingFields in all "
    "(recorded in the audit trail)",
    **PEP_AUTH_ERRORS,
    409: "requestId reused with a different body",
    413: "Body larger than RECONCILIATION_MAX_BODY_BYTES (recorded in the audit trail)",
}
_FEEDBACK_ERRORS = {400: "Malformed feedback (recorded in the audit trail)", **PEP_AUTH_ERRORS}

extend_schema_view(
    post=extend_schema(
        operation_id="reconciliation_players",
        tags=OPERATOR_API_TAGS,
        request=ReconciliationView.InputSerializer,
        responses={
            202: ReconciliationView.OutputSerializer,
            **error_responses(_RECONCILIATION_ERRORS),
        },
        examples=[
            *error_examples(*_RECONCILIATION_ERRORS),
            OpenApiExample(
                "Two players",
                request_only=True,
                value={
                    "requestId": "7b1e4c1a-0f3d-4d7e-9a55-5d2c8b7f0a21",
                    "eventDate": "2026-05-01T12:00:00.000Z",
                    "players": [
                        {"playerId": "demo-1001", "missingFields": ["birthDate", "country"]},
                        {"playerId": "demo-1002", "missingFields": ["email"]},
                    ],
                },
            ),
            OpenApiExample(
                "Accepted",
                response_only=True,
                status_codes=["202"],
                value={"requestId": "7b1e4c1a-0f3d-4d7e-9a55-5d2c8b7f0a21", "status": "accepted"},
            ),
        ],
    )
)(ReconciliationView)

extend_schema_view(
    post=extend_schema(
        operation_id="players_migration_feedback",
        tags=OPERATOR_API_TAGS,
        request=MigrationFeedbackView.InputSerializer,
        responses={204: None, **error_responses(_FEEDBACK_ERRORS)},
        examples=[
            *error_examples(*_FEEDBACK_ERRORS),
            OpenApiExample(
                "Migration finished with errors",
                request_only=True,
                value={
                    "migrationTasksId": "mig-2026-05-01-1",
                    "errorsTotal": 2,
                    "detailsURL": "https://pep.example.com/migration/mig-2026-05-01-1/errors",
                },
            ),
        ],
    )
)(MigrationFeedbackView)
