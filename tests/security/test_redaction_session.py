"""Adversarial redaction suite, whole calls: the phrasings of redaction_cases.py said by a caller
through a real session (``build_call``: Redactor, EventLog, ToolRunner, VerificationGuard),
repeated by the agent and passed to a tool. The event log (memory and file) has 0 leaks; the tool
and the LLM still get the caller's words as said (redaction is for the log only).
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from redaction_cases import (
    KNOWN_ACCOUNT,
    KNOWN_CARD,
    KNOWN_CARD_HI,
    KNOWN_DOB,
    KNOWN_DOB_HI,
    MASK,
    RECORD,
    SURVIVES_AGENT,
    SURVIVES_CALLER,
    UNKNOWN_CALLER,
    cases,
    leaks,
)
from voiceagent.config.diagnostics import ConfigError
from voiceagent.config.load import load_agent
from voiceagent.engine.call import build_call
from voiceagent.testing.fakes import FakeLLM, FakeTransport, tool_call

TOOLS = """
import asyncio, json, pathlib

HERE = pathlib.Path(__file__).parent


def _config():
    return json.loads((HERE / "config.json").read_text())


async def lookup_customer(full_name=None, ctx=None):
    cfg = _config()
    with open(HERE / "lookups.jsonl", "a") as f:
        f.write(json.dumps({"args": {"full_name": full_name}}) + "\\n")
    await asyncio.sleep(cfg.get("delay", 0))
    if cfg.get("fail"):
        raise RuntimeError("database is down")
    return cfg["record"]


def take_note(text, ctx=None):
    with open(HERE / "notes.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps(text, ensure_ascii=False) + "\\n")
    return {"noted": True}
"""

AGENT = """
version: 1
name: redaction-suite
prompt: You are a bank agent.
tools:
  - name: lookup_customer
    description: Record of truth for the calling phone.
    parameters: {LOOKUP_PARAMS}
    python: sectools:lookup_customer
  - name: take_note
    description: Note what the caller said.
    parameters:
      text: {type: string}
    required: [text]
    python: sectools:take_note
guardrails:
  verification:
    factors: [full_name, dob, account_last_four, city, debit_card_last_four]
    lookup: lookup_customer
    levels:
      1: {min_factors: 2}
  redact: [full_name, dob, account_last_four, city, debit_card_last_four]
"""


def make_agent(tmp_path, *, record=RECORD, delay=0.0, fail=False, lookup_params="{}", extra=""):
    (tmp_path / "sectools.py").write_text(TOOLS)
    (tmp_path / "config.json").write_text(json.dumps({"record": record, "delay": delay, "fail": fail}))
    path = tmp_path / "agent.yaml"
    path.write_text(AGENT.replace("{LOOKUP_PARAMS}", lookup_params) + extra)
    return load_agent(path, env={})


def echo_policy(agent_says=None):
    """A model that notes each caller line with take_note, then repeats it (or says ``agent_says[i]``)."""
    said = iter(agent_says or [])

    def reply(request):
        last = request.messages[-1]
        if last["role"] == "user":
            return [tool_call("take_note", json.dumps({"text": last["content"]}, ensure_ascii=False))]
        user = next(m["content"] for m in reversed(request.messages) if m["role"] == "user")
        return [next(said, f"You said: {user}")]

    return reply


async def run_call(tmp_path, loaded, lines, agent_says=None):
    llm = FakeLLM(default=[])
    llm.replies = [echo_policy(agent_says)] * (4 * len(lines) + 4)
    transport = FakeTransport("text", lines=lines, close_input=True, plays_audio=False)
    providers = SimpleNamespace(stt=None, llm=llm, tts=None)
    async with build_call(loaded, providers, transport, events_path=tmp_path / "call.jsonl", env={}) as call:
        await call.run()
        events = list(call.events.events)
    log = [json.loads(x) for x in (tmp_path / "call.jsonl").read_text(encoding="utf-8").splitlines()]
    assert log == events  # the file says what memory says
    return events, llm


def per_line(events):
    """(user.transcript, tool.call take_note argument, agent.text) per caller line, in order."""
    heard = [e["text"] for e in events if e["type"] == "user.transcript"]
    noted = [e["arguments"]["text"] for e in events if e["type"] == "tool.call" and e["name"] == "take_note"]
    said = {e["turn"]: e["text"] for e in events if e["type"] == "agent.text"}
    turns = [e["turn"] for e in events if e["type"] == "user.transcript"]
    return list(zip(heard, noted, [said.get(t, "") for t in turns], strict=True))


def notes(tmp_path):
    path = tmp_path / "notes.jsonl"
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


KNOWN = cases(KNOWN_DOB, KNOWN_DOB_HI, KNOWN_CARD, KNOWN_CARD_HI, KNOWN_ACCOUNT)


async def test_known_values_in_every_spoken_form_never_reach_the_log(tmp_path):
    loaded = make_agent(tmp_path)
    lines = [template.format(form) for template, form in KNOWN]
    events, llm = await run_call(tmp_path, loaded, lines)
    rows = per_line(events)
    assert len(rows) == len(KNOWN)
    found = []
    for (template, form), (heard, noted, said) in zip(KNOWN, rows, strict=True):
        for where, text in (("user.transcript", heard), ("tool.call", noted), ("agent.text", said)):
            said_as = "One moment while I check that. You said: " + template  # the filler, then the echo
            leaked = leaks(text, template if where != "agent.text" else said_as, form)
            if leaked:
                found.append((where, form, text, leaked))
    assert found == []
    # redaction is for the log: the tool and the model got what the caller said
    assert notes(tmp_path) == lines
    sent = json.dumps([r.messages for r in llm.requests], ensure_ascii=False)
    assert all(line in sent for line in lines)


async def test_the_record_is_known_before_the_first_transcript_even_when_the_lookup_is_slow(tmp_path):
    loaded = make_agent(tmp_path, delay=0.3)
    events, _ = await run_call(tmp_path, loaded, ["Hi, I am Ravi Kumar from Pune, card seven seven eight eight"])
    first = next(e for e in events if e["type"] == "user.transcript")
    assert first["text"] == f"Hi, I am {MASK} from {MASK}, card {MASK}"
    log = (tmp_path / "call.jsonl").read_text(encoding="utf-8")
    assert "Ravi" not in log and "Pune" not in log and "seven" not in log
    assert len((tmp_path / "lookups.jsonl").read_text().splitlines()) == 1  # the prefetch (no verify_caller)


async def test_a_lookup_that_needs_the_callers_words_is_not_prefetched_and_patterns_protect(tmp_path):
    loaded = make_agent(tmp_path, lookup_params="{full_name: {type: string}}")
    events, _ = await run_call(tmp_path, loaded, ["I am Ravi Kumar, born 12th of April 1985, pin 5093"])
    assert not (tmp_path / "lookups.jsonl").exists()
    (heard, _, _) = per_line(events)[0]
    # the name cannot be known before verify_caller (documented); dates and digit runs are masked
    assert heard == f"I am Ravi Kumar, born {MASK}, pin {MASK}"


async def test_a_failing_lookup_does_not_hurt_the_call(tmp_path):
    loaded = make_agent(tmp_path, fail=True)
    events, _ = await run_call(tmp_path, loaded, ["born on the 12th of April 1985", "thanks"])
    assert [e["text"] for e in events if e["type"] == "user.transcript"] == [f"born on the {MASK}", "thanks"]
    assert events[-1]["type"] == "session.end"


@pytest.mark.parametrize(("template", "form"), cases(UNKNOWN_CALLER))
async def test_unknown_dates_and_digit_runs_are_masked_in_what_the_caller_says(tmp_path, template, form):
    loaded = make_agent(tmp_path, record={})  # no customer record for this phone: nothing is known
    events, _ = await run_call(tmp_path, loaded, [template.format(form)])
    (heard, _, _) = per_line(events)[0]
    assert leaks(heard, template, form) == [], heard


async def test_ordinary_numbers_survive_in_the_log(tmp_path):
    loaded = make_agent(tmp_path)
    lines = SURVIVES_CALLER[: len(SURVIVES_AGENT)] + SURVIVES_CALLER[len(SURVIVES_AGENT) :]
    says = SURVIVES_AGENT + SURVIVES_CALLER[len(SURVIVES_AGENT) :]
    events, _ = await run_call(tmp_path, loaded, lines, agent_says=says)
    rows = per_line(events)
    assert [r[0] for r in rows] == lines
    assert [r[1] for r in rows] == lines
    assert [r[2].removeprefix("One moment while I check that. ") for r in rows] == says


async def test_caller_patterns_can_be_configured(tmp_path):
    loaded = make_agent(
        tmp_path,
        record={},
        extra="  redact_patterns: {dates: false, digit_runs: 6}\n",
    )
    assert loaded.agent.guardrails.redact_patterns.digit_runs == 6
    events, _ = await run_call(tmp_path, loaded, ["born 12/04/1985, pin 5093, phone 98765 43210"])
    (heard, _, _) = per_line(events)[0]
    assert heard == f"born 12/04/1985, pin 5093, phone {MASK}"


def test_a_bad_digit_runs_value_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError) as err:
        make_agent(tmp_path, extra="  redact_patterns: {digit_runs: -1}\n")
    text = str(err.value)
    assert "digit_runs" in text and "agent.yaml" in text


async def test_prefetch_is_a_no_op_without_verification(tmp_path):
    path = tmp_path / "plain.yaml"
    path.write_text("version: 1\nname: plain\nprompt: hi\nguardrails:\n  redact: [dob]\n")
    loaded = load_agent(path, env={})
    transport = FakeTransport("text", lines=["born 12/04/1985"], close_input=True, plays_audio=False)
    providers = SimpleNamespace(stt=None, llm=FakeLLM(default=["Okay."]), tts=None)
    async with build_call(loaded, providers, transport, env={}) as call:
        assert await call.guard.prefetch(call.session.tool_context()) is False
        await call.run()
        heard = call.events.of_type("user.transcript")[0]["text"]
    assert heard == f"born {MASK}"  # redact without verification still gets the caller patterns
