"""``python -m voiceagent`` runs the CLI."""

from voiceagent.cli import main

main()
