"""Widgets of the main view: process tree, threads/stacks, diagnoses, events, status line."""
