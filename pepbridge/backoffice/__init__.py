"""The staff back office: admin helpers, the operations dashboard and staff time zones."""
