"""Argument parsing/validation, OpenAI tool definitions and the transfer / end_call builtins."""

from __future__ import annotations

import jsonschema
import pytest
from voiceagent.engine.tools import EndCallAction, TransferAction, tool_definitions


def _defs(agent):
    return {d["function"]["name"]: d for d in tool_definitions(agent.tools)}


def test_definitions_are_openai_function_tools(agent):
    defs = _defs(agent)
    d = defs["get_account"]
    assert d["type"] == "function"
    params = d["function"]["parameters"]
    assert params["type"] == "object"
    assert params["properties"]["account_id"] == {"type": "string", "pattern": "^[0-9]{4,12}$"}
    assert params["properties"]["kind"]["enum"] == ["savings", "current"]
    assert params["required"] == ["account_id"]
    jsonschema.Draft202012Validator.check_schema(params)


def test_required_defaults_to_all_parameters(agent):
    assert _defs(agent)["add"]["function"]["parameters"]["required"] == ["a", "b"]
    assert _defs(agent)["kw"]["function"]["parameters"]["required"] == ["x"]


def test_builtins_get_optional_reason(agent):
    for name in ("transfer_to_human", "hang_up"):
        params = _defs(agent)[name]["function"]["parameters"]
        assert params["properties"]["reason"]["type"] == "string"
        assert params["required"] == []
        assert _defs(agent)[name]["function"]["description"]


@pytest.mark.parametrize("raw", ['{"a": 1', "[1, 2]", '"text"', "not json"])
async def test_invalid_json_arguments(runner, ctx, raw):
    res = await runner.run("add", raw, ctx)
    assert not res.ok
    assert "arguments" in res.error


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ({"a": 1}, "'b' is a required property"),
        ({"a": "one", "b": 2}, "a: 'one' is not of type 'number'"),
    ],
)
async def test_schema_violations(runner, ctx, args, needle):
    res = await runner.run("add", args, ctx)
    assert not res.ok
    assert res.error.startswith("invalid arguments: ")
    assert needle in res.error


async def test_pattern_and_enum_violations_do_not_echo_values(runner, ctx):
    res = await runner.run("get_account", {"account_id": "12ab-SECRET", "kind": "gold"}, ctx)
    assert not res.ok
    assert "account_id: does not match pattern" in res.error
    assert "kind: must be one of ['savings', 'current']" in res.error
    assert "SECRET" not in res.error


async def test_unknown_arguments_are_dropped(runner, ctx):
    res = await runner.run("add", {"a": 1, "b": 2, "c": 99}, ctx)
    assert res.ok, res.error
    assert res.result == {"sum": 3}


async def test_empty_arguments_mean_no_arguments(runner, ctx):
    for raw in ("", None, "null", "{}"):
        res = await runner.run("whoami", raw, ctx)
        assert res.ok, (raw, res.error)


async def test_warm_transfer_renders_handoff(runner, ctx):
    res = await runner.run("transfer_to_human", '{"reason": "card stolen"}', ctx)
    assert res.ok
    assert res.result == {"status": "transferring", "mode": "warm"}
    assert res.action == TransferAction(
        to="+15550100", mode="warm", handoff="Customer escalation for +15557654321: card stolen"
    )


async def test_cold_transfer_has_no_handoff_and_renders_destination(runner, ctx):
    res = await runner.run("cold_transfer", {}, ctx)
    assert res.ok
    assert res.action == TransferAction(to="sip:desk@acme.example", mode="cold", handoff=None)


async def test_end_call_with_and_without_reason(runner, ctx):
    res = await runner.run("hang_up", {"reason": "caller said bye"}, ctx)
    assert res.ok and res.action == EndCallAction(reason="caller said bye")
    res = await runner.run("hang_up", "", ctx)
    assert res.ok and res.action == EndCallAction(reason=None)


async def test_builtin_reason_must_be_a_string(runner, ctx):
    res = await runner.run("hang_up", {"reason": 5}, ctx)
    assert not res.ok and "reason" in res.error
