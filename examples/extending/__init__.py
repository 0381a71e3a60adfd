"""PLACEHOLDER (not committed): the plugin module."""
