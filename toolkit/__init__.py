"""Spreadsheet template toolkit for statistical reporting.

One indicator schema drives the whole cycle: locked Excel templates for every agency, reading
their returns back with validation, and merging them into a summary.
"""

__version__ = "0.1.0"
