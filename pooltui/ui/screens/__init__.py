"""Screens of the pooltui app: main view, help, save dialog, diff view."""
