"""Thin integrations: each framework's idiom over the same middleware core."""
