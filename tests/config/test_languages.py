"""``languages:`` (agent format, "Callers who switch language", normative): validate refuses what
cannot work before a call starts, at the offending line: a list without ``language``, languages
no single Pulse stream recognises, a voice known not to speak one of them."""

from __future__ import annotations

from pathlib import Path

from config_helpers import errors, where
from voiceagent.config.validate import validate_paths

AGENTS = Path(__file__).resolve().parents[2] / "agents"


def test_the_hinglish_example_and_every_variant_are_valid():
    assert validate_paths(sorted(AGENTS.glob("*.yaml"))) == []


def test_languages_must_include_language(check):
    diags = check(
        """\
        name: demo
        prompt: You help people.
        language: hi
        languages: [en, ta]
        voice: {id: meher}
        tts: {model: lightning_v3.1_pro}
        """
    )
    assert where(errors(diags))[:1] == [
        (4, 12, "languages: must include language 'hi' (the one the call starts in); write languages: [hi, en, ta]")
    ]


def test_languages_no_pulse_stream_recognises_together_are_refused(check):
    diags = check(
        """\
        name: demo
        prompt: You help people.
        language: hi
        languages:
          - hi
          - ta
        """
    )
    (err,) = [d for d in errors(diags) if "Pulse" in d.message]
    assert (err.line, err.column) == (5, 3)
    assert "Smallest Pulse cannot recognise hi, ta on one stream" in err.message
    assert "[hi, en]" in err.message and "multi-south-indic" in err.message


def test_a_local_recognizer_is_not_checked_against_pulse(check):
    diags = check(
        """\
        name: demo
        prompt: You help people.
        language: hi
        languages: [hi, ta]
        stt: {provider: local}
        tts: {provider: local}
        """
    )
    assert errors(diags) == []


def test_a_voice_that_cannot_speak_one_language_is_refused_at_the_voice_line(check):
    diags = check(
        """\
        name: demo
        prompt: You help people.
        language: hi
        languages: [hi, en]
        voice:
          id: sophie
        tts: {model: lightning_v3.1_pro}
        """
    )
    assert where(errors(diags)) == [
        (6, 7, "voice.id: voice 'sophie' cannot speak Hindi; use a Hindi-capable voice such as 'meher'")
    ]


def test_a_single_language_voice_is_refused_for_english(check):
    diags = check(
        """\
        name: demo
        prompt: You help people.
        language: ta
        languages: [ta, en]
        voice: {id: rajeshwari}
        """
    )
    (err,) = errors(diags)
    assert err.line == 5 and "voice 'rajeshwari' cannot speak English" in err.message and "'sophia'" in err.message


def test_the_default_voice_is_checked_when_no_voice_is_set(check):
    diags = check(
        """\
        name: demo
        prompt: You help people.
        language: ta
        languages: [ta, en]
        """
    )
    (err,) = errors(diags)
    assert err.line == 4 and err.message.startswith("no voice.id is set and the default voice voice 'jeevan'")


def test_a_one_language_agent_gets_the_known_voice_check_too(check):
    diags = check(
        """\
        name: demo
        prompt: You help people.
        language: te
        voice: {id: rajeshwari}
        """
    )
    (err,) = errors(diags)
    assert err.line == 4 and "cannot speak 'te'" in err.message and "padmaja" in err.message


def test_an_unknown_or_referenced_voice_is_left_to_the_server(check):
    for voice in ("my-cloned-voice", "${VOICE_ID}"):
        diags = check(
            f"""\
            name: demo
            prompt: You help people.
            language: hi
            languages: [hi, en]
            voice: {{id: "{voice}"}}
            """
        )
        assert errors(diags) == [], voice


def test_bad_language_codes_are_refused_with_the_fix(check):
    diags = check(
        """\
        name: demo
        prompt: You help people.
        languages: [en, Hindi]
        """
    )
    assert where(errors(diags)) == [
        (3, 17, "languages[1]: 'Hindi' is not allowed here; use language codes such as en, en-IN, hi or ta")
    ]
    diags = check("name: demo\nprompt: You help people.\nlanguages: []\n")
    assert [d.message for d in errors(diags)] == ["languages: needs at least 1 entry"]


def test_a_variant_error_points_at_the_variants_own_line(write):
    write("base.yaml", "name: base\nprompt: Hi.\nlanguage: hi\nvoice: {id: meher}\ntts: {model: lightning_v3.1_pro}\n")
    child = write("child.yaml", "extends: base.yaml\nname: child\nlanguages: [hi, en, ta]\n")
    diags = errors(validate_paths([child]))
    assert {(Path(d.file).name, d.line) for d in diags} == {("child.yaml", 3), ("base.yaml", 4)}
    assert any("Pulse cannot recognise hi, en, ta" in d.message for d in diags)
    assert any("voice 'meher' cannot speak 'ta'" in d.message for d in diags)
