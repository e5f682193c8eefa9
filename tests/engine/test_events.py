import json

from voiceagent.engine.events import EventLog
from voiceagent.engine.redaction import Redactor


def test_t_ms_is_monotonic_from_zero_with_a_fake_clock():
    ticks = iter([100.0, 100.0, 100.5, 100.2, 101.0])  # the clock goes backwards once
    log = EventLog(clock=lambda: next(ticks))
    a = log.emit("session.start")
    b = log.emit("x")
    c = log.emit("y")
    d = log.emit("z")
    assert [a["t_ms"], b["t_ms"], c["t_ms"], d["t_ms"]] == [0.0, 500.0, 500.0, 1000.0]


def test_redaction_by_field_and_late_registered_values_rewrite_the_file(tmp_path):
    redactor = Redactor(["name", "dob"], env={})
    path = tmp_path / "e.jsonl"
    log = EventLog(path, redactor=redactor)
    log.emit("user.transcript", text="I am Ann Lee, born 1990-01-02")
    log.emit("tool.call", name="create_ticket", arguments={"name": "Ann Lee", "summary": "card 1990-01-02"})
    # not known to be sensitive yet: only the caller's words get the date / digit-run patterns
    assert "I am Ann Lee, born [redacted]" in path.read_text()
    assert "card 1990-01-02" in path.read_text()
    redactor.add("1990-01-02")
    redactor.add("Ann Lee")
    log.emit("verification", level=1, factors_matched=["name", "dob"])
    log.close()
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert lines == log.events
    text = path.read_text()
    assert "1990-01-02" not in text and "Ann Lee" not in text
    call = log.of_type("tool.call")[0]
    assert call["name"] == "create_ticket"  # the event's own field is not a redacted key
    assert call["arguments"]["name"] == "[redacted]"
    assert log.of_type("verification")[0]["factors_matched"] == ["name", "dob"]


def test_secrets_are_masked():
    log = EventLog(redactor=Redactor(env={"ACME_API_KEY": "sk-abcdefghijklmnop1234"}))
    e = log.emit("error", message="401 with key sk-abcdefghijklmnop1234")
    assert "sk-abcdefghijklmnop1234" not in json.dumps(e)
