"""The compiled state machine and the session loop that drives one call."""
