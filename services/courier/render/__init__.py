"""Rendering courier templates: Warden's built-in Jinja2 files, or an operator's overrides."""
