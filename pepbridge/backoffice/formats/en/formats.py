"""English formats for the back office: ordering events by eye needs seconds and the zone.

`T` is the zone of the time shown, which the admin converts to the staff member's zone
(StaffTimezoneMiddleware, else TIME_ZONE): "2026-12-03 18:45:02 CET".
"""

DATETIME_FORMAT = "Y-m-d H:i:s T"
SHORT_DATETIME_FORMAT = "Y-m-d H:i:s T"
DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = "Y-m-d"
TIME_FORMAT = "H:i:s"
