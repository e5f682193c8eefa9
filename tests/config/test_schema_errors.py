"""Schema (pydantic) errors point at the offending key or value with a friendly message."""

from __future__ import annotations

from config_helpers import where


def test_unknown_top_level_key_did_you_mean(check):
    diags = check("name: demo\nprompt: hi\ngreting: hello\n")
    assert where(diags) == [(3, 1, "unknown key 'greting' in the agent; did you mean 'greeting'?")]
    assert diags[0].path == "greting"


def test_unknown_nested_key_did_you_mean(check):
    diags = check(
        "name: demo\nprompt: hi\ntools:\n  - name: t\n    description: d\n    builtin: end_call\n    timout_ms: 5\n"
    )
    assert where(diags) == [(7, 5, "unknown key 'timout_ms' in tools[0]; did you mean 'timeout_ms'?")]


def test_unknown_key_in_http_json_alias_known(check):
    diags = check(
        "name: demo\nprompt: hi\ntools:\n  - name: t\n    description: d\n"
        "    http: {url: 'https://x.example', json: {a: 1}, jsn: 2}\n"
    )
    assert where(diags) == [(6, 52, "unknown key 'jsn' in tools[0].http; did you mean 'json'?")]


def test_missing_key_mentions_likely_misspelling(check):
    diags = check("name: demo\npromt: hi\n")
    assert where(diags) == [
        (1, 1, "missing required key 'prompt' in the agent ('promt' on line 2 looks like a misspelling of it)"),
        (2, 1, "unknown key 'promt' in the agent; did you mean 'prompt'?"),
    ]


def test_empty_states_and_tool_name_hint(check):
    diags = check("name: d\nprompt: p\nflow: {initial: a, states: {}}\ntools: [{name: Get-Info, builtin: end_call}]\n")
    assert [m for _, _, m in where(diags)] == [
        "flow.states: needs at least 1 entry",
        "tools[0].name: 'Get-Info' is not allowed here; use lowercase letters, digits and underscores, "
        "starting with a letter, e.g. get_account_info",
    ]


def test_missing_required_key_points_at_parent(check):
    diags = check("name: demo\nvoice:\n  speed: 1.2\n")
    assert where(diags) == [
        (1, 1, "missing required key 'prompt' in the agent"),
        (2, 1, "missing required key 'id' in voice"),
    ]


def test_enum_value_with_suggestion(check):
    diags = check("name: demo\nprompt: hi\nstt:\n  provider: smalest\n")
    assert where(diags) == [
        (4, 13, "stt.provider: 'smalest' is not allowed; use one of auto, smallest, local; did you mean 'smallest'?")
    ]


def test_range_error_at_value(check):
    diags = check("name: demo\nprompt: hi\nvoice: {id: meher, speed: 3}\n")
    assert where(diags) == [(3, 27, "voice.speed: must be at most 2.0 (got 3)")]


def test_pattern_error(check):
    diags = check("name: Demo Agent\nprompt: hi\n")
    assert where(diags) == [
        (1, 7, "name: 'Demo Agent' is not allowed here; use lowercase letters, digits and dashes, e.g. acme-support")
    ]


def test_wrong_type(check):
    diags = check("name: demo\nprompt: hi\nbehaviour:\n  barge_in: maybe\n")
    assert diags[0].line == 4 and diags[0].column == 13
    assert diags[0].message == "behaviour.barge_in: expected true or false (got 'maybe')"


def test_tool_entry_must_be_a_mapping(check):
    diags = check("name: demo\nprompt: hi\ntools:\n  - get_info\n")
    assert where(diags) == [(4, 5, "tools[0]: expected a mapping (key: value lines or {key: value}) (got 'get_info')")]


def test_levels_keys_must_be_numbers(check):
    diags = check(
        """\
        name: demo
        prompt: hi
        tools:
          - {name: look, description: d, builtin: end_call}
        guardrails:
          verification:
            factors: [name]
            lookup: look
            levels:
              one: {min_factors: 1}
        """
    )
    assert [(d.line, d.column) for d in diags] == [(10, 7)]
    assert "the key 'one' is not allowed here" in diags[0].message


def test_reference_in_typed_field_is_fine_without_env(check):
    assert check("name: demo\nprompt: hi\nllm:\n  temperature: ${TEMP}\n") == []


def test_all_problems_at_once(check):
    diags = check(
        "name: demo\nprompt: hi\nvoice: {id: a, sped: 1}\nllm: {max_tokens: 0}\n"
        "flow:\n  initial: nowhere\n  states:\n    a: {}\n"
    )
    assert [d.line for d in diags if d.severity == "error"] == [3, 4, 6]


def test_numbers_in_text_fields_keep_their_written_form(write):
    from voiceagent.config.load import load_agent

    path = write(
        "a.yaml",
        "name: demo\nprompt: hi\nvoice: {id: 12345}\ntools:\n  - {name: t, builtin: transfer, to: +15550100}\n",
    )
    agent = load_agent(path).agent
    assert agent.voice.id == "12345" and agent.tools[0].to == "+15550100"


def test_null_in_text_field_is_still_an_error(check):
    diags = check("name: demo\nprompt: null\n")
    assert [(d.line, d.column) for d in diags] == [(2, 9)]


def test_did_you_mean_inside_named_entries(check):
    diags = check(
        "name: demo\nprompt: hi\ntools:\n  - name: t\n    builtin: end_call\n"
        "    parameters: {account_id: {type: string, descripton: x}}\n"
        "flow:\n  initial: tools\n  states:\n    tools: {instructons: x}\n"
    )
    assert [d.message for d in diags if d.severity == "error"] == [
        "unknown key 'descripton' in tools[0].parameters.account_id; did you mean 'description'?",
        "unknown key 'instructons' in flow.states.tools; did you mean 'instructions'?",
    ]
