"""PLACEHOLDER (not committed): the half_life gradient summary."""
