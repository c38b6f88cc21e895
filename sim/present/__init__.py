"""Presentation: tables and plots of results."""
