from voiceagent.engine.history import History
from voiceagent.engine.speech import SentenceSplitter, strip_markdown
from voiceagent.providers.base import ToolCallRequest


def split_stream(text: str, step: int = 1) -> list[str]:
    s = SentenceSplitter()
    out: list[str] = []
    for i in range(0, len(text), step):
        out += s.feed(text[i : i + step])
    return out + s.flush()


def test_sentences_come_out_as_soon_as_they_end():
    s = SentenceSplitter()
    assert s.feed("Hello there! How") == ["Hello there!"]
    assert s.feed(" are you") == []
    assert s.feed("? Fine") == ["How are you?"]
    assert s.flush() == ["Fine"]


def test_abbreviations_decimals_and_list_numbers_do_not_split():
    out = split_stream("Dr. Smith paid 3.50 dollars, e.g. twice. Steps:\n1. Call us\n2. Wait")
    assert out == ["Dr. Smith paid 3.50 dollars, e.g. twice.", "Steps:", "1. Call us", "2. Wait"]


def test_dotted_abbreviations_and_initials_do_not_split():
    assert split_stream("It costs 5 U.S. dollars. J. Smith said so.") == [
        "It costs 5 U.S. dollars.",
        "J. Smith said so.",
    ]


def test_emoji_are_not_spoken():
    assert strip_markdown("Great news 🎉! Done ✅.") == "Great news! Done."


def test_devanagari_danda_ends_a_sentence():
    assert split_stream("नमस्ते। आप कैसे हैं?") == ["नमस्ते।", "आप कैसे हैं?"]


def test_markdown_is_stripped_for_speech():
    assert strip_markdown("**Bold** and *it* and `code`") == "Bold and it and code"
    assert strip_markdown("## Heading") == "Heading"
    assert strip_markdown("- item one\n* item two") == "item one item two"
    assert strip_markdown("See [the docs](https://x.example/a).") == "See the docs."
    assert strip_markdown("keep snake_case_names") == "keep snake_case_names"


def test_trimming_keeps_last_turns_and_tool_pairs():
    h = History()
    h.add_assistant("Hi!")
    for i in range(4):
        h.add_user(f"u{i}")
        if i == 2:
            call = ToolCallRequest(id="c1", name="t", arguments="{}")
            h.add_assistant(None, [call])
            h.add_tool_result("c1", {"ok": True})
        h.add_assistant(f"a{i}")
    kept = h.trimmed(2)
    assert [m["role"] for m in kept] == ["user", "assistant", "tool", "assistant", "user", "assistant"]
    assert kept[0]["content"] == "u2" and kept[1]["tool_calls"][0]["id"] == "c1"
    assert len(h.trimmed(10)) == len(h.messages)
