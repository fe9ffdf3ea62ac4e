"""The inbound API plumbing: credentials (OAuth2 clients, API keys), authentication, errors."""
