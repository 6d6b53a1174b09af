"""Audible's ACX rules: levels measured, chapters mastered to pass them, `narrator check`."""
