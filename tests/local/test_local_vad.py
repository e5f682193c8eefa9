"""Silero VAD streaming decisions on the sample recordings (model shipped inside faster-whisper)."""

from __future__ import annotations

import numpy as np
import pytest
from local_audio import chunks, need_modules, read_wav

pytestmark = pytest.mark.local_models


@pytest.fixture(autouse=True)
def _packages():
    need_modules("faster_whisper", "onnxruntime")


def run_vad(vad, frame):
    events = []
    for piece in chunks(frame, 20):
        events += vad.process(piece.pcm)
    return events


@pytest.mark.parametrize("name", ["hello.wav", "account_question.hi.wav"])
def test_finds_start_and_end_of_speech_with_silence_around(name):
    from voiceagent.providers.local.vad import StreamingVAD

    audio = read_wav(name)  # 0.5 s silence, speech (Piper English / espeak-ng Hindi), >= 1.5 s silence
    events = run_vad(StreamingVAD(eou_timeout_ms=600), audio)
    kinds = [e.kind for e in events]
    assert kinds[0] == "start" and kinds[-1] == "end"
    assert kinds.count("start") == 1 and kinds.count("end") == 1
    start, end = events[0], events[-1]
    assert 400 <= start.ms <= 1200  # speech begins at 500 ms
    total_ms = audio.duration_ms
    assert total_ms - 1500 - 600 <= end.ms <= total_ms - 1500 + 300  # trailing silence is 1.5 s (+ espeak's own)
    assert "pause" in kinds  # a pause precedes every end


def test_two_utterances_are_two_starts_and_two_ends():
    from voiceagent.providers.local.vad import StreamingVAD

    events = run_vad(StreamingVAD(eou_timeout_ms=600), read_wav("multi_turn.wav"))
    assert [e.kind for e in events if e.kind != "pause"] == ["start", "end", "start", "end"]


def test_longer_eou_timeout_merges_utterances_across_a_short_gap():
    from voiceagent.providers.local.vad import StreamingVAD

    events = run_vad(StreamingVAD(eou_timeout_ms=3000), read_wav("multi_turn.wav"))  # gap is 2 s
    assert [e.kind for e in events if e.kind != "pause"] == ["start"]  # 1.5 s tail < 3 s: no end yet


def test_a_short_word_is_an_utterance():
    from voiceagent.providers.local.vad import StreamingVAD

    audio = read_wav("account_question.wav")  # "Hi," spans ~0.5-0.8 s, then a pause
    short = audio.pcm[: 2 * 16000 * 900 // 1000] + bytes(2 * 16000 * 3 // 2)
    events = StreamingVAD().process(short)
    assert [e.kind for e in events if e.kind != "pause"] == ["start", "end"]
    assert 450 <= events[0].ms <= 700


def test_a_click_is_not_speech():
    from voiceagent.providers.local.vad import StreamingVAD

    click = np.zeros(16000 * 2, dtype=np.int16)
    click[16000 : 16000 + 160] = 20000  # 10 ms full-scale pulse
    assert StreamingVAD().process(click) == []


def test_pure_silence_and_faint_noise_report_nothing():
    from voiceagent.providers.local.vad import StreamingVAD

    vad = StreamingVAD()
    assert vad.process(np.zeros(16000 * 3, dtype=np.int16)) == []
    noise = np.random.default_rng(7).normal(0, 200, 16000 * 3).astype(np.int16)
    assert vad.process(noise.tobytes()) == []
    assert not vad.speaking and vad.force_end() is None


def test_force_end_closes_ongoing_speech():
    from voiceagent.providers.local.vad import StreamingVAD

    audio = read_wav("hello.wav")
    vad = StreamingVAD()
    events = vad.process(audio.pcm[: 2 * 16000 * 2])  # first 2 s: speech still going
    assert [e.kind for e in events if e.kind != "pause"] == ["start"]
    end = vad.force_end()
    assert end is not None and end.kind == "end" and end.sample <= vad.position
    assert vad.force_end() is None


def test_end_sooner_ends_the_current_silence_early_and_only_that_one():
    from voiceagent.providers.local.vad import StreamingVAD

    audio = read_wav("hello.wav")  # one utterance, then 1.5 s of silence
    vad = StreamingVAD(eou_timeout_ms=1000)
    events = []
    for piece in chunks(audio, 20):
        for event in vad.process(piece.pcm):
            events.append(event)
            if event.kind == "pause":
                vad.end_sooner(300)  # what LocalSTT does when the pause's words end a sentence
    end = next(e for e in events if e.kind == "end")
    assert 300 <= (end.decided - end.sample) / 16 <= 400  # decided ~300 ms after the speech ended, not 1000
    assert vad.end_sooner(300) is None and not vad.speaking  # nothing to shorten between utterances
