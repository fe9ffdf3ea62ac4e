"""pepbridge: the operator-side bridge to PEP (Gamanza Engage)."""
