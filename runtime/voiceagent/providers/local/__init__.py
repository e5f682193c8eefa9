"""The embedded offline stack: faster-whisper + Silero VAD, llama.cpp, Piper / espeak-ng (no network)."""
