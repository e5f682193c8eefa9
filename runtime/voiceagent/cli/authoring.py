"""Authoring commands: ``validate``, ``schema``, ``show``."""
