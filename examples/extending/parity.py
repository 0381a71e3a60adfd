"""PLACEHOLDER (not committed): data=parity."""
