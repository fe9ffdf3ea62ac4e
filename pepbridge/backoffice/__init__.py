"""Back-office building blocks every app's admin uses: admin mixins, the paginator, the staff-action
log, staff time zones and the 403 page. Imports no app (the dashboard, which reads them all, is
pepbridge/dashboard)."""
