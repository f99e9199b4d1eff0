"""Helpers for the integration tests: real servers on loopback, real Chromium, real PostgreSQL."""
