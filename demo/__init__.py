"""Bundled demo scenarios: standalone scripts run by `pooltui demo` and the tests (not imported)."""
