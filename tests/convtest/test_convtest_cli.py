"""``voiceagent test`` end to end through the CLI: result lines, explanations, exit codes,
-k, --format json, --junit-xml, --llm, and invalid test files (exit 2 with FILE:LINE:COL).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner
from voiceagent.cli import main

BALANCE = """\
agent: ../support.yaml
llm: scripted
scenarios:
  - name: balance lookup
    turns:
      - user: "My account is 67890."
        llm:
          - tool_calls: [{name: get_account_info, arguments: {account_id: "67890"}}]
          - say: "Your balance is zero dollars."
        expect:
          tool_calls: [{name: get_account_info, arguments: {account_id: "12345"}}]
  - name: goodbye
    turns:
      - user: "Bye."
        llm:
          - say: "Goodbye!"
            tool_calls: [{name: end_call}]
        expect: {end: true}
  - name: judged
    turns:
      - user: "Hello"
        llm: [{say: "Hello, how can I help?"}]
        expect:
          reply_contains: ["help"]
          judge: "The agent offers help."
"""


def run(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, ["test", *args], catch_exceptions=False, env=env)


def test_a_wrong_expectation_fails_with_exit_1_and_a_plain_explanation(write_test):
    path = write_test(BALANCE)
    result = run(str(path), env={"VOICEAGENT_JUDGE_LLM": ""})
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0] == f"{path}::balance lookup FAILED"
    assert lines[1] == (
        "    turn 1: expected a call to get_account_info with account_id '12345' in this turn; the agent called "
        "get_account_info with account_id '67890' and said 'Let me check your account. Your balance is zero dollars.'"
    )
    assert f"{path}::goodbye PASSED" in lines
    assert f"{path}::judged SKIPPED" in lines
    assert any("judge skipped" in line and "--judge-llm" in line for line in lines)
    assert lines[-1] == "1 passed, 1 failed, 1 skipped"


def test_all_passing_exits_0_and_the_summary_has_no_skipped_part(write_test):
    path = write_test(BALANCE)
    result = run(str(path), "-k", "goodbye")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [f"{path}::goodbye PASSED", "1 passed, 0 failed"]


def test_k_selects_by_file_and_name_case_insensitively(write_test):
    path = write_test(BALANCE)
    result = run(str(path), "-k", "BALANCE")
    assert [line.split(" ")[-1] for line in result.stdout.splitlines() if "::" in line] == ["FAILED"]
    assert run(str(path), "-k", "t.test.yaml::").stdout.count("::") == 3


def test_k_that_matches_nothing_is_a_usage_error(write_test):
    result = run(str(write_test(BALANCE)), "-k", "no such scenario")
    assert result.exit_code == 2
    assert "no scenario matches -k 'no such scenario'" in result.stderr


def test_json_output_has_every_turn(write_test):
    path = write_test(BALANCE)
    result = run(str(path), "--format", "json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert (doc["passed"], doc["failed"], doc["skipped"]) == (1, 1, 1)
    first = doc["scenarios"][0]
    assert first["id"] == f"{path}::balance lookup" and first["status"] == "failed"
    assert first["failures"][0].startswith("turn 1: expected a call to get_account_info")
    (turn,) = first["turns"]
    assert turn["heard"] == ["My account is 67890."]
    assert turn["tool_calls"][0]["name"] == "get_account_info"
    assert turn["tool_calls"][0]["arguments"] == {"account_id": "67890"}
    assert turn["tool_calls"][0]["ok"] is True
    assert turn["state"] == "main" and turn["ended"] is None
    assert doc["scenarios"][1]["turns"][0]["ended"] == "end_call"


def test_junit_xml_has_the_junit_structure(write_test, tmp_path):
    path = write_test(BALANCE)
    out = tmp_path / "reports" / "junit.xml"
    result = run(str(path), "--junit-xml", str(out))
    assert result.exit_code == 1
    root = ET.parse(out).getroot()
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == ("3", "1", "0", "1")
    (suite,) = root
    assert suite.tag == "testsuite" and suite.get("name") == str(path)
    assert suite.get("tests") == "3" and suite.get("failures") == "1" and suite.get("skipped") == "1"
    float(suite.get("time"))
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["balance lookup", "goodbye", "judged"]
    for case in cases:
        assert case.get("classname") and float(case.get("time")) >= 0
    failure = cases[0].find("failure")
    assert failure is not None and failure.get("message").startswith("turn 1: expected a call")
    assert "67890" in failure.text
    assert cases[1].find("failure") is None and cases[1].find("skipped") is None
    assert cases[2].find("skipped") is not None and "judge skipped" in cases[2].find("skipped").get("message")
    assert "caller: My account is 67890." in cases[0].find("system-out").text


def test_llm_scripted_option_overrides_the_file(write_test):
    text = BALANCE.replace("llm: scripted\n", "llm: agent\n", 1)
    path = write_test(text)
    result = run(str(path), "--llm", "scripted", "-k", "goodbye")
    assert result.exit_code == 0, result.output


def test_default_path_is_agents_tests(write_test, agents_dir, monkeypatch):
    write_test(BALANCE)
    monkeypatch.chdir(agents_dir.parent)
    result = run("-k", "goodbye")
    assert result.exit_code == 0
    assert result.stdout.startswith("agents/tests/t.test.yaml::goodbye PASSED")


def test_missing_path_and_empty_folder_are_usage_errors(tmp_path):
    assert run(str(tmp_path / "nope")).exit_code == 2
    result = run(str(tmp_path))
    assert result.exit_code == 2 and "no test files (*.test.yaml)" in result.stderr


INVALID = [
    ("agent: ../support.yaml\nscenarios:\n  - name: x\n    turns:\n      - usr: hi\n", 5, 9, "unknown key 'usr'"),
    (
        "agent: ../support.yaml\nscenarios:\n  - name: x\n    turns:\n      - {user: hi, say: hi}\n",
        5,
        9,
        "exactly one of user, audio or say (this one has user and say)",
    ),
    (
        "agent: ../nope.yaml\nscenarios:\n  - name: x\n    turns: [{user: hi}]\n",
        1,
        8,
        "agent file '../nope.yaml' not found",
    ),
    (
        "agent: ../bank.yaml\nscenarios:\n  - name: x\n    turns:\n      - user: hi\n        expect: {state: servce}\n",
        6,
        25,
        "the agent has no state 'servce'; did you mean 'service'?",
    ),
    (
        "agent: ../bank.yaml\nscenarios:\n  - name: x\n    turns:\n"
        "      - user: hi\n        expect: {reply_matches: '(unclosed'}\n",
        6,
        33,
        "reply_matches: not a valid regular expression",
    ),
    ("agent: ../support.yaml\nscenarios: [\n", 3, 1, "YAML syntax error"),
    ("", 1, 1, "file is empty; a test file needs agent and scenarios"),
    (
        "agent: ../support.yaml\nscenarios:\n  - {name: a, turns: [{user: hi}]}\n  - {name: a, turns: [{user: hi}]}\n",
        4,
        12,
        "scenario name 'a' is used twice",
    ),
    (
        "agent: ../support.yaml\nscenarios:\n  - name: a\n    turns: [{audio: missing.wav}]\n",
        4,
        21,
        "audio file 'missing.wav' not found",
    ),
    (
        "agent: ../support.yaml\nllm: scripte\nscenarios: [{name: a, turns: [{user: hi}]}]\n",
        2,
        6,
        "use one of agent, scripted",
    ),
    (
        "agent: ../bank.yaml\nllm: scripted\nscenarios:\n  - name: a\n    turns:\n"
        "      - user: hi\n        llm: [{transition: servic}]\n",
        7,
        28,
        "the agent has no state 'servic'",
    ),
    ("agent: ../support.yaml\nscenarios: []\n", 2, 12, "needs at least 1 entry"),
    (
        "agent: ../support.yaml\nscenarios:\n  - name: a\n    turns:\n      - user: hi\n        llm: [{}]\n",
        6,
        15,
        "a round needs say, tool_calls or transition",
    ),
]


@pytest.mark.parametrize(("text", "line", "col", "message"), INVALID)
def test_an_invalid_test_file_exits_2_with_file_line_col(write_test, text, line, col, message):
    path = write_test(text)
    result = run(str(path))
    assert result.exit_code == 2
    assert result.stdout == ""  # no scenario ran
    errors = [x for x in result.stderr.splitlines() if ": error: " in x]
    assert errors, result.stderr
    assert errors[0].startswith(f"{path}:{line}:{col}: error: "), errors
    assert message in errors[0]
    assert "Traceback" not in result.output


def test_an_invalid_agent_is_reported_with_its_own_positions(write_test, agents_dir):
    (agents_dir / "broken.yaml").write_text("name: broken\nprompt: hi\nllm: {temprature: 1}\n", encoding="utf-8")
    path = write_test("agent: ../broken.yaml\nscenarios: [{name: a, turns: [{user: hi}]}]\n")
    result = run(str(path))
    assert result.exit_code == 2
    assert f"{path}:1:8: error: the agent file '../broken.yaml' is invalid" in result.stderr
    assert "broken.yaml:3:7: error: unknown key 'temprature' in llm" in result.stderr


def test_a_scenario_after_the_call_ended_explains_it(write_test):
    path = write_test(
        """\
        agent: ../support.yaml
        llm: scripted
        scenarios:
          - name: talks after hanging up
            turns:
              - user: Bye
                llm: [{say: Goodbye, tool_calls: [{name: end_call}]}]
              - user: Wait, one more thing
        """
    )
    result = run(str(path))
    assert result.exit_code == 1
    assert (
        "turn 2: the call had already ended (end_call) before the caller said 'Wait, one more thing'" in result.stdout
    )


def test_skip_key_skips_with_its_reason(write_test):
    path = write_test(
        "agent: ../support.yaml\nscenarios:\n  - {name: later, skip: not ready yet, turns: [{user: hi}]}\n"
    )
    result = run(str(path))
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        f"{path}::later SKIPPED",
        "    skipped: not ready yet",
        "0 passed, 0 failed, 1 skipped",
    ]


def test_json_format_reports_an_invalid_file_as_diagnostics(write_test):
    path = write_test("agent: ../support.yaml\nscenarios:\n  - name: x\n    turns:\n      - usr: hi\n")
    result = run(str(path), "--format", "json")
    assert result.exit_code == 2
    doc = json.loads(result.stdout)
    assert doc["scenarios"] == [] and doc["failed"] == 0
    (d,) = doc["diagnostics"]
    assert (d["file"], d["line"], d["column"], d["severity"]) == (str(path), 5, 9, "error")
    assert d["message"].startswith("unknown key 'usr'")


def test_validate_checks_test_files_with_their_own_schema(write_test):
    good = write_test(BALANCE, "good.test.yaml")
    bad = write_test("agent: ../support.yaml\nscenarios:\n  - name: x\n    turns:\n      - usr: hi\n", "bad.test.yaml")
    ok = CliRunner().invoke(main, ["validate", str(good)])
    assert ok.exit_code == 0, ok.output
    result = CliRunner().invoke(main, ["validate", str(good), str(bad)])
    assert result.exit_code == 1
    assert result.stdout.startswith(f"{bad}:5:9: error: unknown key 'usr'")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "agent: ../support.yaml\nenv: {'BAD NAME': x}\nscenarios: [{name: a, turns: [{user: hi}]}]\n",
            "not an environment variable name",
        ),
        ("agent: ../support.yaml\nscenarios: [{name: a, turns: [{user: '  '}]}]\n", "the caller must say something"),
        ("agent: ../support.yaml\nscenarios: [{name: a, turns: [{audio: .}]}]\n", "audio file '.' not found"),
        ("agent: [../support.yaml]\nscenarios: [{name: a, turns: [{user: hi}]}]\n", "expected text"),
        ("- just\n- a list\n", "expected a mapping"),
        (
            "agent: ../support.yaml\nscenarios: [{name: a, turns: [{user: hi, expect: {within_ms: 0}}]}]\n",
            "must be more than 0",
        ),
        (
            "agent: ../support.yaml\nscenarios: [{name: a, turns: [{user: hi, expect: {transfer: maybe}}]}]\n",
            "transfer",
        ),
        (
            "agent: ../support.yaml\nscenarios: [{name: a, turns: [{user: !!python/object:os.system x}]}]\n",
            "not allowed",
        ),
    ],
)
def test_adversarial_test_files_are_refused_plainly(write_test, text, message):
    result = run(str(write_test(text)))
    assert result.exit_code == 2
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.output


def test_an_audio_file_that_is_not_a_wav_fails_the_scenario_plainly(write_test, agents_dir, monkeypatch):
    (agents_dir / "tests" / "notes.wav").write_text("not audio", encoding="utf-8")
    path = write_test("agent: ../support.yaml\nllm: scripted\nscenarios: [{name: a, turns: [{audio: notes.wav}]}]\n")
    monkeypatch.setattr("voiceagent.providers.registry.resolve_providers", _fake_stt_providers)
    result = run(str(path))
    assert result.exit_code == 1
    assert "turn 1: cannot read notes.wav" in result.stdout
    assert "Traceback" not in result.output


def _fake_stt_providers(agent, *, env, audio, speech=True):
    from voiceagent.providers.registry import ResolvedProviders
    from voiceagent.testing.fakes import FakeLLM, FakeSTT

    return ResolvedProviders(stt=FakeSTT(), llm=FakeLLM(), tts=None)


def test_env_is_set_for_the_tools_and_restored(write_test, agents_dir, monkeypatch):
    monkeypatch.delenv("VOICEAGENT_BANK_DB", raising=False)
    path = write_test(
        """\
        agent: ../bank.yaml
        llm: scripted
        env: {VOICEAGENT_BANK_DB: "{tmp}/bank.db"}
        scenarios:
          - name: verified balance
            turns:
              - user: "Ravi Kumar from Pune, what's my balance?"
                llm:
                  - transition: verify
                  - tool_calls: [{name: verify_caller, arguments: {full_name: Ravi Kumar, city: Pune}}]
                  - tool_calls: [{name: get_account_summary}]
                  - say: Here it is.
                expect:
                  tool_results: [{name: get_account_summary, ok: true}]
        """
    )
    result = run(str(path), "--format", "json")
    assert result.exit_code == 0, result.output
    assert "VOICEAGENT_BANK_DB" not in __import__("os").environ
