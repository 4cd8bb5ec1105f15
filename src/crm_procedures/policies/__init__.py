"""Data-quality policies: data-entry conventions (A1) and mandatory-data rules (A2, A4)."""
