"""Semantic checks after the schema: references, templates, tools, secrets."""

from __future__ import annotations

import sys

from config_helpers import errors, where

HEAD = "name: demo\nprompt: hi\n"


def test_flow_initial_and_targets(check):
    diags = check(
        HEAD
        + """\
flow:
  initial: triag
  states:
    triage:
      transitions:
        - to: servce
          description: wants service
    service:
      final: true
"""
    )
    assert where(errors(diags)) == [
        (4, 12, "initial state 'triag' is not defined; did you mean 'triage'?"),
        (8, 15, "transition from 'triage' goes to undefined state 'servce'; did you mean 'service'?"),
    ]


def test_unreachable_state_warning(check):
    diags = check(HEAD + "flow:\n  initial: a\n  states:\n    a: {final: true}\n    b: {final: true}\n")
    assert [(d.line, d.column, d.severity) for d in diags] == [(7, 5, "warning")]
    assert "cannot be reached" in diags[0].message


def test_state_tools_and_on_tool_defined(check):
    diags = check(
        HEAD
        + """\
tools:
  - {name: get_info, description: d, builtin: end_call}
flow:
  initial: a
  states:
    a:
      tools: [get_info, get_infos]
      transitions:
        - {to: a, on_tool: create_ticket}
"""
    )
    assert where(errors(diags)) == [
        (9, 25, "state 'a' uses tool 'get_infos', which is not defined; did you mean 'get_info'?"),
        (11, 28, "on_tool 'create_ticket' is not a defined tool"),
    ]


def test_transition_needs_exactly_one_trigger(check):
    diags = check(
        HEAD
        + "flow:\n  initial: a\n  states:\n    a:\n      transitions:\n        - to: a\n"
        + "        - {to: a, description: x, when: 'session.turns > 3'}\n"
    )
    assert where(errors(diags)) == [
        (8, 11, "a transition needs exactly one of description, when or on_tool (has none)"),
        (9, 12, "a transition needs exactly one of description, when or on_tool (has description and when)"),
    ]


def test_guard_expression_must_compile(check):
    diags = check(
        HEAD
        + "flow:\n  initial: a\n  states:\n    a:\n      transitions:\n        - {to: a, when: 'session.turns >'}\n"
    )
    assert [(d.line, d.column) for d in diags] == [(8, 25)]
    # the message names the key the person wrote (when), at its line
    assert diags[0].message.startswith("when: guard 'session.turns >' does not compile: expression syntax error")
    assert diags[0].path == "flow.states.a.transitions[0].when"


def test_template_syntax_error_line_inside_block(check):
    diags = check("name: demo\nprompt: |\n  Line one.\n  You are {{ company }.\n")
    assert [(d.line, d.severity) for d in diags] == [(4, "error")]
    assert diags[0].message.startswith("prompt: template syntax error")


def test_template_in_http_json(check):
    diags = check(
        HEAD + "tools:\n  - name: t\n    description: d\n    http:\n      url: https://x.example/{{ args.id }\n"
        "      json: {a: '{{ args.a '}\n"
    )
    assert [(d.line, d.path) for d in diags] == [(7, "tools[0].http.url"), (8, "tools[0].http.json.a")]


def test_tool_kind_exactly_one(check):
    diags = check(
        HEAD + "tools:\n  - name: a\n    description: d\n  - name: b\n    description: d\n    builtin: end_call\n"
        "    python: m:f\n"
    )
    assert where(errors(diags)) == [
        (4, 5, "tool 'a' needs exactly one of python, http or builtin (has none)"),
        (6, 5, "tool 'b' needs exactly one of python, http or builtin (has python and builtin)"),
    ]


def test_required_only_declared_params_and_duplicates(check):
    diags = check(
        HEAD + "tools:\n  - name: a\n    description: d\n    builtin: end_call\n"
        "    parameters: {account_id: {type: string}}\n"
        "    required: [acount_id]\n  - {name: a, description: d, builtin: end_call}\n"
    )
    assert where(errors(diags)) == [
        (8, 16, "tool 'a': required parameter 'acount_id' is not declared in parameters; did you mean 'account_id'?"),
        (9, 12, "duplicate tool name 'a' (first at line 4)"),
    ]


def test_requires_level_lookup_and_lockout(check):
    diags = check(
        HEAD
        + """\
tools:
  - {name: act, description: d, builtin: end_call, requires_level: 3}
guardrails:
  verification:
    factors: [name]
    lookup: lookup_customer
    levels: {1: {min_factors: 1}}
    on_lockout: transfer
"""
    )
    assert where(errors(diags)) == [
        (4, 68, "tool 'act' requires_level 3, which is not a defined verification level (defined: 1)"),
        (8, 13, "verification lookup 'lookup_customer' is not a defined tool"),
        (10, 17, "on_lockout 'transfer' is neither a defined tool nor end_call"),
    ]


def test_end_call_is_a_valid_lockout(check):
    diags = check(
        HEAD + "tools:\n  - {name: look, description: d, builtin: end_call}\nguardrails:\n  verification:\n"
        "    factors: [name]\n    lookup: look\n    levels: {1: {min_factors: 1}}\n    on_lockout: end_call\n"
    )
    assert diags == []


def test_transfer_needs_to(check):
    diags = check(HEAD + "tools:\n  - {name: t, builtin: transfer}\n")
    assert where(diags) == [(4, 24, "tool 't': builtin transfer needs 'to' (a number or SIP URI)")]


def test_missing_description_warning(check):
    diags = check(HEAD + "tools:\n  - {name: t, http: {url: 'https://x.example'}}\n")
    assert [(d.line, d.severity) for d in diags] == [(4, "warning")]


def test_say_is_for_builtins_only_and_its_template_is_checked(check):
    diags = check(HEAD + "tools:\n  - {name: t, description: d, http: {url: 'https://x.example'}, say: Bye}\n")
    assert [(d.line, d.severity) for d in diags] == [(4, "warning")]
    assert "'say' only applies to builtin: transfer or end_call" in diags[0].message
    ok = check(HEAD + "tools:\n  - {name: bye, builtin: end_call, say: 'Goodbye!'}\n")
    assert ok == []
    bad = check(HEAD + "tools:\n  - {name: bye, builtin: end_call, say: 'Goodbye {{ caler.phone'}\n")
    assert [d.severity for d in bad] == ["error"]


def test_inline_secret_warning_never_prints_secret(check):
    secret = "sk-" + "a1B2c3D4e5F6g7H8i9J0k1L2"
    diags = check(
        HEAD + "tools:\n  - name: t\n    description: d\n    http:\n      url: https://x.example\n"
        f"      headers: {{Authorization: 'Bearer {secret}', X-Other: 'Bearer ${{TOKEN}}'}}\n"
    )
    assert [(d.line, d.column, d.severity) for d in diags] == [(8, 32, "warning")]
    assert "inline secret" in diags[0].message and secret not in diags[0].message


def test_high_entropy_token_warning(check):
    diags = check(HEAD + "variables:\n  key: Zx81Qp0Lm2Nv7Rt4Yw6Ks9Hd3Gf5Jb1Tc8\n")
    assert [(d.line, d.severity) for d in diags] == [(4, "warning")]


def test_python_tool_resolution_and_signature(check, write):
    write("tools/__init__.py", "")
    write(
        "tools/acme.py",
        "def get_info(account_id, ctx=None):\n    return {}\n"
        "def needs_more(account_id, pin):\n    return {}\n"
        "def flexible(**kwargs):\n    return {}\n",
    )
    diags = check(
        HEAD
        + """\
tools:
  - name: a
    description: d
    parameters: {account_id: {type: string}}
    python: tools.acme:get_info
  - name: b
    description: d
    parameters: {account_id: {type: string}}
    python: tools.acme:needs_more
  - name: c
    description: d
    parameters: {x: {type: string}}
    python: tools.acme:flexible
  - name: d
    description: d
    python: tools.acme:get_infoo
  - name: e
    description: d
    python: tools.nothere:f
  - name: f
    description: d
    parameters: {account_id: {type: string}, extra: {type: string}}
    python: tools.acme:get_info
"""
    )
    assert where(errors(diags)) == [
        (
            11,
            13,
            "tool 'b': the function requires parameter 'pin' that the tool does not declare (tools.acme:needs_more)"
            "; add it to the tool's parameters or give it a default in the function",
        ),
        (18, 13, "tool 'd': module 'tools.acme' has no function 'get_infoo'; did you mean 'get_info'?"),
        (21, 13, diags[2].message),
        (
            25,
            13,
            "tool 'f': the function does not accept parameter 'extra' declared by the tool (tools.acme:get_info)"
            "; add it to the function (or **kwargs) or remove it from the tool's parameters",
        ),
    ]
    assert diags[2].message.startswith("tool 'e': module 'tools.nothere' not found (looked for tools/nothere.py in ")
    assert "tools" not in sys.modules and "tools.acme" not in sys.modules


def test_python_tool_module_is_read_not_run(check, write):
    write("tools/boom.py", "raise RuntimeError('no database here')\ndef f():\n    return 1\n")
    before = list(sys.path)
    diags = check(HEAD + "tools:\n  - {name: a, description: d, python: 'tools.boom:f'}\n")
    assert diags == []  # the module's top-level code never ran
    assert sys.path == before and "tools.boom" not in sys.modules


def test_optional_param_without_default_warns(check, write):
    write("mytools.py", "def f(a, b):\n    return {}\n")
    diags = check(
        HEAD + "tools:\n  - name: t\n    description: d\n    parameters: {a: {}, b: {}}\n    required: [a]\n"
        "    python: mytools:f\n"
    )
    assert [(d.line, d.severity) for d in diags] == [(8, "warning")]
    assert "'b' is optional for the tool but has no default" in diags[0].message


def test_unknown_template_names_warn(check):
    diags = check(
        "name: demo\nprompt: 'Agent for {{ compnay }} on {{ session.language }} at {{ now }}'\n"
        "variables: {company: Acme}\n"
        "tools:\n  - name: t\n    description: d\n    parameters: {summary: {}}\n    http:\n"
        "      url: https://x.example\n      json: {s: '{{ args.sumary }}', ok: '{{ args.summary }}'}\n"
    )
    assert [(d.line, d.severity) for d in diags] == [(2, "warning"), (10, "warning")]
    assert "template name 'compnay' is not a variable or a runtime name; did you mean 'company'?" in diags[0].message
    assert "args.sumary is not a declared parameter of this tool; did you mean 'summary'?" in diags[1].message


def test_literal_under_sensitive_key_warns(check):
    diags = check(
        HEAD + "llm: {api_key_env: OPENAI_API_KEY}\ntools:\n  - name: t\n    description: d\n    http:\n"
        "      url: https://x.example\n      headers: {X-Api-Key: hunter2, Authorization: 'Bearer ${TOKEN:-dev}'}\n"
    )
    assert [(d.line, d.column, d.severity) for d in diags] == [(9, 28, "warning")]


def test_on_tool_outside_state_tools_warns(check):
    diags = check(
        HEAD + "tools:\n  - {name: t, description: d, builtin: end_call}\nflow:\n  initial: a\n  states:\n"
        "    a:\n      transitions: [{to: b, on_tool: t}]\n    b: {final: true}\n"
    )
    assert [(d.line, d.severity) for d in diags] == [(9, "warning")]
    assert "not among the tools of state 'a'" in diags[0].message


def test_reserved_tool_names(check):
    diags = check(
        HEAD + "tools:\n  - {name: verify_caller, description: d, builtin: end_call}\n"
        "  - {name: go_to_service, description: d, builtin: end_call}\n"
    )
    assert [(d.line, d.column) for d in diags] == [(4, 12), (5, 12)]
    assert all("is reserved by the runtime" in d.message for d in diags)


def test_http_json_and_body_exclusive_and_transfer_only_keys(check):
    diags = check(
        HEAD + "tools:\n  - name: t\n    description: d\n    mode: warm\n    http:\n      url: https://x.example\n"
        "      json: {a: 1}\n      body: raw\n"
    )
    assert [(d.line, d.column, d.severity) for d in diags] == [(6, 5, "warning"), (10, 7, "error")]
    assert diags[1].message == "tool 't': give either json or body, not both"


def test_local_stt_model_must_be_an_embedded_recognizer(check):
    diags = check(HEAD + "stt:\n  provider: local\n  model: large-v3\n")
    assert where(errors(diags)) == [
        (
            5,
            10,
            "stt.model: 'large-v3' is not an embedded speech recognizer; "
            "use base or tiny.en (or leave it out for base)",
        )
    ]
    assert errors(check(HEAD + "stt:\n  provider: local\n  model: tiny.en\n")) == []
    # with provider auto the model may be a cloud one (the offline fallback ignores it)
    assert errors(check(HEAD + "stt:\n  provider: auto\n  model: pulse\n")) == []
