"""Agent configuration: pydantic models, the line-tracking YAML loader, ``extends`` and checks."""
