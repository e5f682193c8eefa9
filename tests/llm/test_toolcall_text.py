"""Tool calls written as text: a parsing table, then every streaming chunk boundary."""

from __future__ import annotations

import json
import random

import pytest
from voiceagent.providers.toolcall_text import TextToolCallFilter, extract_tool_calls

TOOLS = {"get_weather", "lookup", "end_call"}
W = '{"name": "get_weather", "arguments": {"city": "Mumbai"}}'

# (model text, expected spoken text (whitespace-normalised), expected [(name, args)])
CASES = [
    ("Hello, how can I help?", "Hello, how can I help?", []),
    (f"Sure! <tool_call>\n{W}\n</tool_call>", "Sure!", [("get_weather", {"city": "Mumbai"})]),
    (f"<tool_call>{W}</tool_call>", "", [("get_weather", {"city": "Mumbai"})]),
    (
        f"Let me check.\n```json\n{W}\n```\nOne moment.",
        "Let me check. One moment.",
        [("get_weather", {"city": "Mumbai"})],
    ),
    (f"```\n{W}\n```", "", [("get_weather", {"city": "Mumbai"})]),
    (f"```tool_call\n{W}```", "", [("get_weather", {"city": "Mumbai"})]),
    (W, "", [("get_weather", {"city": "Mumbai"})]),
    (f"Checking {W} now.", "Checking now.", [("get_weather", {"city": "Mumbai"})]),
    ('{"name": "lookup", "arguments": "{\\"q\\": \\"bank hours\\"}"}', "", [("lookup", {"q": "bank hours"})]),
    ('{"name": "end_call", "arguments": ""}', "", [("end_call", {})]),
    ('{"name": "end_call"}', "", [("end_call", {})]),
    ('{"name": "lookup", "parameters": {"q": "x"}}', "", [("lookup", {"q": "x"})]),
    ('{"type": "function", "function": {"name": "lookup", "arguments": {"q": "y"}}}', "", [("lookup", {"q": "y"})]),
    ('{"name": "lookup", "q": "flat"}', "", [("lookup", {"q": "flat"})]),
    (
        "{'name': 'lookup', 'arguments': {'q': 'single quotes', 'n': None}}",
        "",
        [("lookup", {"q": "single quotes", "n": None})],
    ),
    (
        '[{"name": "get_weather", "arguments": {"city": "A"}}, {"name": "lookup", "arguments": {}}]',
        "",
        [("get_weather", {"city": "A"}), ("lookup", {})],
    ),
    (
        '<tool_call>{"name": "lookup", "arguments": {"q": "1"}}\n{"name": "end_call", "arguments": {}}</tool_call>',
        "",
        [("lookup", {"q": "1"}), ("end_call", {})],
    ),
    (
        '<tool_call>{"name": "lookup", "arguments": {"q": "1"}}</tool_call>\n<tool_call>'
        '{"name": "end_call", "arguments": {}}</tool_call>',
        "",
        [("lookup", {"q": "1"}), ("end_call", {})],
    ),
    # a new tag before the previous one closed
    (
        '<tool_call>{"name": "lookup", "arguments": {}}<tool_call>{"name": "end_call", "arguments": {}}',
        "",
        [("lookup", {}), ("end_call", {})],
    ),
    # strings containing braces, tags and escapes
    (
        '<tool_call>{"name": "lookup", "arguments": {"q": "a } b </tool_call-ish \\" {"}}</tool_call>',
        "",
        [("lookup", {"q": 'a } b </tool_call-ish " {'})],
    ),
    ('<tool_call>{"name": "lookup", "arguments": {"q": "it\'s"}}</tool_call>', "", [("lookup", {"q": "it's"})]),
    # unicode and Hindi text around a call
    (f"ज़रूर, मैं देखता हूँ। <tool_call>{W}</tool_call>", "ज़रूर, मैं देखता हूँ।", [("get_weather", {"city": "Mumbai"})]),
    # truncated by max_tokens: repaired
    (
        'One sec <tool_call>{"name": "get_weather", "arguments": {"city": "Mum',
        "One sec",
        [("get_weather", {"city": "Mum"})],
    ),
    ('<tool_call>\n{"name": "lookup", "arguments": {"q": "x"}}', "", [("lookup", {"q": "x"})]),
    # unknown tool / invalid arguments: dropped from speech, no call
    ('Okay. {"name": "transfer_money", "arguments": {"amount": 5}}', "Okay.", []),
    ('<tool_call>{"name": "lookup", "arguments": "not json"}</tool_call>', "", []),
    ('<tool_call>{"name": "lookup", "arguments": [1, 2]}</tool_call>', "", []),
    ("<tool_call>complete garbage here</tool_call> Bye.", "Bye.", []),
    ('<tool_call>{"name": </tool_call>', "", []),
    ('Data: {"a": 1, "b": [2]} ok', "Data: ok", []),
    # ordinary text with braces, brackets, angle brackets
    ("Use {curly} and [square] brackets, 3 < 4 > 2.", "Use {curly} and [square] brackets, 3 < 4 > 2.", []),
    ("I said {", "I said {", []),
    ("Ends with [", "Ends with [", []),
    ("A list [1, 2, 3] and a <b>tag</b>.", "A list [1, 2, 3] and a <b>tag</b>.", []),
    ("Code ```\nprint('hi')\n``` done", "Code print('hi') done", []),
    # stray special tokens and closers are never spoken
    ("Bye now.<|im_end|>", "Bye now.", []),
    ("Done.</tool_call>", "Done.", []),
    ("Wait <tool_ca", "Wait", []),
    ("", "", []),
]


def _norm(s: str) -> str:
    return " ".join(s.split())


def _calls(calls):
    return [(c.name, json.loads(c.arguments)) for c in calls]


@pytest.mark.parametrize("text,spoken,expected", CASES)
def test_parsing_table(text, spoken, expected):
    got_text, calls = extract_tool_calls(text, TOOLS)
    assert _norm(got_text) == spoken
    assert _calls(calls) == expected
    assert all(c.id.startswith("call_") for c in calls)
    assert len({c.id for c in calls}) == len(calls)


@pytest.mark.parametrize("text,spoken,expected", CASES)
def test_every_two_chunk_split_gives_the_same_result(text, spoken, expected):
    for cut in range(len(text) + 1):
        f = TextToolCallFilter(TOOLS)
        out = f.feed(text[:cut]) + f.feed(text[cut:]) + f.finish()
        assert _norm(out) == spoken, f"cut at {cut}"
        assert _calls(f.calls) == expected, f"cut at {cut}"


@pytest.mark.parametrize("text,spoken,expected", CASES)
def test_char_by_char_never_leaks_json(text, spoken, expected):
    f = TextToolCallFilter(TOOLS)
    pieces = [f.feed(ch) for ch in text]
    out = "".join(pieces) + f.finish()
    assert _norm(out) == spoken
    assert _calls(f.calls) == expected
    if expected:
        assert '"name"' not in out and "tool_call" not in out


def test_text_streams_through_without_waiting_for_the_end():
    f = TextToolCallFilter(TOOLS)
    assert f.feed("Hello there, ") == "Hello there, "
    assert f.feed("how are you") == "how are you"
    # a possible tag start is held, and released once it is not a tag
    assert f.feed(" <to") == " "
    assert f.feed("day>") == "<today>"
    # "{" followed by a non-quote is not JSON: released at once
    assert f.feed(" {") == " "
    assert f.feed("x}") == "{x}"


def test_held_call_releases_following_text_after_closing():
    f = TextToolCallFilter(TOOLS)
    assert f.feed('Sure. <tool_call>{"name": "lookup", ') == "Sure. "
    assert f.calls == []
    assert f.feed('"arguments": {}}</tool_call> And') == " And"
    assert _calls(f.calls) == [("lookup", {})]
    assert f.finish() == ""


def test_rejections_are_recorded():
    f = TextToolCallFilter(TOOLS)
    f.feed('{"name": "rm_rf", "arguments": {}}')
    f.finish()
    assert f.calls == [] and any("rm_rf" in r for r in f.rejected)


def test_feed_after_finish_is_an_error():
    f = TextToolCallFilter(TOOLS)
    f.finish()
    with pytest.raises(RuntimeError):
        f.feed("x")


def test_random_garbage_never_crashes_and_random_splits_agree():
    rng = random.Random(1234)
    alphabet = list("{}[]\"'<>`:, \\abn") + [
        "<tool_call>",
        "</tool_call>",
        "```",
        '"name"',
        '"arguments"',
        '"lookup"',
        "json\n",
    ]
    for _ in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        whole, calls = extract_tool_calls(text, TOOLS)
        f = TextToolCallFilter(TOOLS)
        i, out = 0, ""
        while i < len(text):
            n = rng.randint(1, 5)
            out += f.feed(text[i : i + n])
            i += n
        out += f.finish()
        assert out == whole, text
        assert _calls(f.calls) == _calls(calls), text


SALVAGE = [
    # broken JSON that clearly names an offered tool (seen from Qwen2.5-0.5B)
    ('{"name": "end_call", "arguments": {"}}', [("end_call", {})]),
    ('<tool_call>{"name": "lookup", "arguments": {"q": "x"}, "id": }</tool_call>', [("lookup", {"q": "x"})]),
    ('<tool_call>{"name": "lookup", "arguments": {"q": "x"} "extra"}</tool_call>', [("lookup", {"q": "x"})]),
    ('```json\n{"name": "end_call" "arguments": {}}\n```', [("end_call", {})]),
    # never salvaged: unknown tools, valid JSON with a bad shape, no name at all
    ('<tool_call>{"name": "nope", "arguments": {"}}</tool_call>', []),
    ('{"name": "lookup", "arguments": [1]}', []),
    ('<tool_call>{"arguments": {"q": 1}</tool_call>', []),
]


@pytest.mark.parametrize("text,expected", SALVAGE)
def test_salvage_mode(text, expected):
    f = TextToolCallFilter(TOOLS, salvage=True)
    out = f.feed(text) + f.finish()
    assert out.strip() == ""
    assert _calls(f.calls) == expected
    plain = TextToolCallFilter(TOOLS)
    assert (plain.feed(text) + plain.finish()).strip() == "" and plain.calls == []


@pytest.mark.parametrize("text,expected", SALVAGE)
def test_salvage_mode_at_every_chunk_boundary(text, expected):
    for cut in range(len(text) + 1):
        f = TextToolCallFilter(TOOLS, salvage=True)
        out = f.feed(text[:cut]) + f.feed(text[cut:]) + f.finish()
        assert out.strip() == "" and _calls(f.calls) == expected, f"cut at {cut}"
