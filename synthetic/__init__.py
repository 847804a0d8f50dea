"""Demo data: a synthetic marketplace with planted preferences, and the same as raw source files."""
