"""The operations dashboard and the figures /healthz shares: the page that reads every app."""
