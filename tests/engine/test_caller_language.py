"""Callers who switch language (agent format, normative): ``session.language`` follows the caller,
``when`` guards and templates see it, the prompt asks for the reply in it, and a one-language agent
never switches. The rules of :class:`voiceagent.engine.language.CallerLanguage`, then whole calls."""

from __future__ import annotations

import pytest
from engine_helpers import make_agent, run_session
from voiceagent.engine.language import REPLY_INSTRUCTIONS, CallerLanguage, reply_instruction, speech_language
from voiceagent.testing.fakes import FakeLLM, FakeTransport

HINGLISH = ["hi", "en"]


@pytest.mark.parametrize(
    ("text", "detected", "expected"),
    [
        ("मेरा बैलेंस कितना है?", "hi", "hi"),
        ("What is my balance?", "en", "en"),
        ("मेरा balance कितना है?", "hi", "hi"),  # Hinglish: Pulse's label wins on mixed script
        # all Latin though labelled hi (Pulse's hi model writes Hindi in Devanagari, English in
        # Latin; a stream opened with language=hi may label English finals hi): English
        ("What is my balance?", "hi", "en"),
        ("What is my balance?", None, "en"),  # typed text: the script decides
        ("मेरा बैलेंस कितना है?", None, "hi"),
        ("12345", None, "hi"),  # no letters: stays where it is (the call starts in hi)
        ("Wie spät ist es?", "de", "en"),  # not one of the agent's languages: the script decides
    ],
)
def test_the_callers_language_for_a_transcript(text, detected, expected):
    assert CallerLanguage(HINGLISH, "hi").follow(text, detected) == expected


def test_a_label_contradicted_by_every_letter_gives_way_to_the_script():
    lang = CallerLanguage(HINGLISH, "hi")
    assert lang.follow("मेरा बैलेंस कितना है?", "en") == "hi"  # no Latin letter at all
    assert lang.follow("मेरा balance कितना है?", "en") == "en"  # some Latin: Pulse's label stands


def test_a_shared_script_keeps_the_current_language_then_the_first_listed():
    lang = CallerLanguage(["hi", "mr", "en"], "mr")
    assert lang.follow("तुमची थकबाकी किती आहे?", None) == "mr"  # Devanagari, current is mr
    lang = CallerLanguage(["hi", "mr", "en"], "en")
    assert lang.follow("बैलेंस?", None) == "hi"  # Devanagari, current en: the first listed


def test_a_one_language_agent_never_switches():
    lang = CallerLanguage([], "hi-IN")
    assert not lang.multilingual
    assert lang.follow("What is my balance?", "en") == "hi"
    assert not CallerLanguage(["hi"], "hi").multilingual


def test_speech_language_and_prompt_lines():
    assert speech_language("माफ़ कीजिए, दोबारा बोलिए।", HINGLISH, "en") == "hi"  # a Hindi phrase stays Hindi
    assert speech_language("Sorry?", HINGLISH, "hi") == "en"
    assert speech_language("42.50", HINGLISH, "hi") == "hi"
    assert reply_instruction("hi-IN") == REPLY_INSTRUCTIONS["hi"] and "हिंदी" in REPLY_INSTRUCTIONS["hi"]
    assert "'xx'" in reply_instruction("xx")
    # every line is written in its own language's script
    from voiceagent.engine.language import SCRIPTS, script_of

    for code, line in REPLY_INSTRUCTIONS.items():
        assert script_of(line) == SCRIPTS.get(code, "LATIN"), code


async def test_session_language_follows_the_caller_into_guards_templates_and_the_prompt():
    agent = make_agent(
        language="hi",
        languages=["hi", "en"],
        prompt="Session language: {{ session.language }}.",
        flow={
            "initial": "main",
            "states": {
                "main": {"transitions": [{"to": "english", "when": "session.language == 'en'"}]},
                "english": {"instructions": "The caller chose English."},
            },
        },
    )
    llm = FakeLLM([["ठीक है।"], ["Sure."]])
    transport = FakeTransport("text", lines=["नमस्ते, मुझे मदद चाहिए।", "Can we speak English?"], close_input=True)
    session, _ = await run_session(agent, llm, transport)
    events = session.events.events
    assert [e["language"] for e in events if e["type"] == "user.transcript"] == ["hi", "en"]
    assert [e["language"] for e in events if e["type"] == "turn.metrics"] == ["hi", "en"]
    first, second = (r.messages[0]["content"] for r in llm.requests)
    assert first.startswith("Session language: hi.") and first.endswith(REPLY_INSTRUCTIONS["hi"])
    assert second.startswith("Session language: en.") and second.endswith(REPLY_INSTRUCTIONS["en"])
    assert session.state.state == "english" and session.state.language == "en"  # the guard saw it
    assert [e["state"] for e in events if e["type"] == "state.enter"] == ["main", "english"]


async def test_a_one_language_agent_keeps_session_language_and_its_prompt():
    agent = make_agent(language="hi", prompt="P {{ session.language }}")
    llm = FakeLLM([["Sure."]])
    transport = FakeTransport("text", lines=["Can we speak English?"], close_input=True)
    session, _ = await run_session(agent, llm, transport)
    assert llm.requests[0].messages[0]["content"] == "P hi"
    assert [e["language"] for e in session.events.events if e["type"] == "user.transcript"] == ["hi"]
    assert "languages" not in session.events.events[0]
