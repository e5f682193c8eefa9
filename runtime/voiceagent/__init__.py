"""voiceagent: declarative voice agents.

Data flows one way, and the sub-packages say so:
YAML -> ``config`` (pydantic models, loader, checks) -> ``engine`` (compiled state
machine and session loop) -> ``providers`` (STT, LLM, TTS behind ``typing.Protocol``)
and ``transports`` (text, WAV, sound device).
"""

__version__ = "0.1.0"
