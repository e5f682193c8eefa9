"""A long first sentence goes to TTS clause first (time to first audio), and the caller-facing
text (agent.text, history) stays the whole reply."""

import pytest
from engine_helpers import make_agent, run_session
from voiceagent.engine.events import EventLog
from voiceagent.engine.speech import SentenceSplitter
from voiceagent.testing.fakes import Delay, FakeLLM, FakeTransport, FakeTTS

LONG = "I have looked at your account and the last payment, which was on Monday, went through fine."


def split_stream(text: str, step: int = 1, **kwargs) -> list[str]:
    s = SentenceSplitter(**kwargs)
    out: list[str] = []
    for i in range(0, len(text), step):
        out += s.feed(text[i : i + step])
    return out + s.flush()


@pytest.mark.parametrize(
    "text, expected",
    [
        # the last clause end once the sentence passed 60 characters
        (LONG, ["I have looked at your account and the last payment,", "which was on Monday, went through fine."]),
        (
            "Here is what I found: your last payment of 1,234.56 dollars arrived on Monday at 10:30 today.",
            ["Here is what I found:", "your last payment of 1,234.56 dollars arrived on Monday at 10:30 today."],
        ),
        (
            "Your card was blocked this morning — after three wrong PIN attempts at the same machine.",
            ["Your card was blocked this morning —", "after three wrong PIN attempts at the same machine."],
        ),
        (
            "Your card was blocked this morning - after three wrong PIN attempts at the same machine.",
            ["Your card was blocked this morning -", "after three wrong PIN attempts at the same machine."],
        ),
        (
            "The branch is closed today; it opens again tomorrow morning at nine for all of the customers.",
            ["The branch is closed today;", "it opens again tomorrow morning at nine for all of the customers."],
        ),
        # numbers, times, hyphenated words and unspaced dashes are never cut
        (
            "The total of your last three payments comes to 1,234.56 dollars and 10:30 was the time of it.",
            ["The total of your last three payments comes to 1,234.56 dollars and 10:30 was the time of it."],
        ),
        (
            "This is a well-known and long-standing issue that affects many of the older accounts here—sorry.",
            ["This is a well-known and long-standing issue that affects many of the older accounts here—sorry."],
        ),
        # short sentences, and every sentence after the first, stay whole
        ("Yes, that works.", ["Yes, that works."]),
        ("Sure. " + LONG, ["Sure.", LONG]),
        # open Markdown is not cut: the cut waits for a clause end after the bold closed
        (
            "**Yes, I checked the account and everything** looks fine on our side today, thanks a lot.",
            ["**Yes, I checked the account and everything** looks fine on our side today,", "thanks a lot."],
        ),
        (
            "See [the fees, charges and limits page](https://x.example/a) for all of the details, please.",
            ["See [the fees, charges and limits page](https://x.example/a) for all of the details,", "please."],
        ),
    ],
)
def test_long_first_sentence_is_cut_at_a_clause_end(text, expected):
    assert split_stream(text) == expected
    assert split_stream(text, step=5) == expected  # token-sized pieces give the same cuts


def test_a_sentence_that_arrived_whole_is_not_cut():
    assert split_stream(LONG, step=len(LONG)) == [LONG]
    assert split_stream(LONG + " Anything else?", step=1000) == [LONG, "Anything else?"]


def test_the_first_clause_cut_can_be_turned_off():
    assert split_stream(LONG, first_clause_chars=None) == [LONG]


def test_pieces_joined_give_the_text_back():
    for text in [LONG, "Well, I think that the best thing to do now is to wait for the payment to clear first."]:
        assert " ".join(split_stream(text)) == text


async def test_a_long_first_sentence_reaches_tts_in_two_pieces_and_agent_text_stays_whole():
    words = LONG.split(" ")
    steps: list = [w + " " for w in words[:-4]] + [Delay(0.3)] + [" ".join(words[-4:])]
    llm = FakeLLM([steps])
    tts = FakeTTS()
    events = EventLog()
    session, _ = await run_session(
        make_agent(), llm, FakeTransport("text", lines=["how is my account?"], close_input=True), tts=tts, events=events
    )
    assert tts.texts == [
        "I have looked at your account and the last payment,",
        "which was on Monday, went through fine.",
    ]
    assert tts.requests[0].started < llm.calls[0].ended - 0.2  # TTS began while the LLM still wrote
    assert [e["text"] for e in events.of_type("agent.text")] == [LONG]
    assert session.history.messages[-1] == {"role": "assistant", "content": LONG}
