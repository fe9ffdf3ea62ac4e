"""The one place in pepbridge that talks HTTP to PEP."""
