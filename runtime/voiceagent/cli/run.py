"""``voiceagent run``: one live call through a transport."""
