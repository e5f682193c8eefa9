"""Structured turns for small models: one constrained decision per LLM round (see ``rounds``)."""
