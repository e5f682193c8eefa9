"""The speech_to_speech block: validation (a Hydra voice of another model is refused at its line),
the schema and reference, and what the provider registry decides for it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from voiceagent.cli import main
from voiceagent.config.load import check_file, load_agent
from voiceagent.config.models import Agent
from voiceagent.providers.registry import ProviderSetupError, plan_providers, resolve_providers
from voiceagent.providers.s2s_choice import UnusedLLM
from voiceagent.providers.smallest.hydra import HydraS2S
from voiceagent.providers.smallest.models import HYDRA_VOICES, check_hydra_voice

ROOT = Path(__file__).resolve().parents[2]
KEY = {"SMALLEST_API_KEY": "sk_test_0000000000"}

BASE = """\
version: 1
name: s2s
prompt: Be brief.
speech_to_speech:
  provider: smallest
  model: {model}
  voice: {voice}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "agent.yaml"
    path.write_text(text)
    return path


def validate(*paths: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["validate", *map(str, paths)], catch_exceptions=False)
    return result.exit_code, result.output


def test_the_example_agent_validates_and_keeps_everything_of_support_yaml():
    code, out = validate(ROOT / "agents" / "support.hydra.yaml")
    assert code == 0, out
    agent = load_agent(ROOT / "agents" / "support.hydra.yaml", env={}).agent
    support = load_agent(ROOT / "agents" / "support.yaml", env={}).agent
    assert agent.speech_to_speech is not None and agent.speech_to_speech.voice in HYDRA_VOICES["hydra-v1.1"]
    assert agent.language == "en" and agent.prompt == support.prompt and agent.tools == support.tools


def test_a_voice_of_another_hydra_model_is_refused_at_the_voice_line(tmp_path):
    path = write(tmp_path, BASE.format(model="hydra-v1.1", voice="sterling"))
    code, out = validate(path)
    assert code == 1
    assert f"{path}:7:10: error: speech_to_speech.voice: hydra-v1.1 has no voice 'sterling'" in out
    assert "(it is a hydra-v1.0 voice)" in out and "zoe" in out
    assert validate(write(tmp_path, BASE.format(model="hydra-v1.0", voice="sterling")))[0] == 0


@pytest.mark.parametrize(
    ("model", "voice", "expected"),
    [
        ("hydra-v2", "zoe", "is not allowed; use one of hydra-v1.1, hydra-v1.0, hydra"),
        ("hydra-v1.0", "zoe", "hydra-v1.0 has no voice 'zoe' (it is a hydra-v1.1 voice)"),
        ("hydra", "nobody", "hydra has no voice 'nobody'; use one of knox"),
    ],
)
def test_bad_models_and_voices_get_one_clear_line_each(tmp_path, model, voice, expected):
    _, _, diags = check_file(write(tmp_path, BASE.format(model=model, voice=voice)))
    (diag,) = [d for d in diags if d.severity == "error"]
    assert expected in diag.message and diag.path.startswith("speech_to_speech")
    assert "Traceback" not in diag.message


def test_unknown_keys_and_transcript_modes_are_refused_with_the_choices(tmp_path):
    text = BASE.format(model="hydra-v1.1", voice="zoe") + "  transcripts: whisper\n  instructions: x\n"
    _, _, diags = check_file(write(tmp_path, text))
    messages = " | ".join(d.message for d in diags)
    assert "use one of stt, none" in messages and "unknown key 'instructions' in speech_to_speech" in messages


def test_the_schema_and_the_reference_document_the_block():
    schema = json.loads((ROOT / "schemas" / "agent.schema.json").read_text())
    block = json.dumps(schema)
    assert "speech_to_speech" in schema["$defs"]["Agent"]["properties"] and "hydra-v1.1" in block
    assert "SpeechToSpeechOverride" in schema["$defs"]  # a variant (extends) may change only some keys
    reference = (ROOT / "docs" / "agent-reference.md").read_text()
    assert "## speech_to_speech" in reference and "transcripts" in reference


def test_hydra_rosters_do_not_overlap_and_the_check_names_the_owner():
    seen: set[str] = set()
    for voices in HYDRA_VOICES.values():
        assert not voices & seen
        seen |= voices
    assert check_hydra_voice("hydra-v1.1", None) is None
    assert "unknown Hydra model" in (check_hydra_voice("gpt", "zoe") or "")


def s2s_agent(**extra) -> Agent:
    fields = {"name": "s", "prompt": "p", "speech_to_speech": {"voice": "zoe"}}
    return Agent.model_validate({**fields, **extra})


def test_an_audio_call_plans_hydra_plus_the_stt_for_transcripts_and_says_so():
    plan = plan_providers(s2s_agent(), env=KEY, audio=True)
    assert plan.s2s is not None and plan.llm is None and plan.tts is None
    assert plan.stt is not None and plan.stt.provider == "smallest"
    assert plan.notes == [
        "s2s: smallest hydra-v1.1 voice zoe — speech_to_speech in the agent",
        "stt: smallest pulse — SMALLEST_API_KEY is set",
        "llm, tts: off — speech_to_speech answers (--text uses the llm block)",
    ]


def test_transcripts_none_needs_no_stt():
    agent = s2s_agent(speech_to_speech={"voice": "zoe", "transcripts": "none"}, stt={"provider": "local"})
    plan = plan_providers(agent, env=KEY, audio=True)
    assert plan.stt is None and any("transcripts: none" in n for n in plan.notes)


async def test_resolved_providers_carry_the_realtime_model_and_no_chat_llm():
    providers = resolve_providers(
        s2s_agent(), env={**KEY, "SMALLEST_BASE_URL": "http://127.0.0.1:9/waves/v1"}, audio=True
    )
    try:
        assert isinstance(providers.realtime, HydraS2S) and providers.realtime.model == "hydra-v1.1"
        assert isinstance(providers.llm, UnusedLLM) and providers.tts is None
        with pytest.raises(Exception, match="no chat LLM"):
            async for _ in providers.llm.stream(None):  # type: ignore[arg-type]
                pass
    finally:
        await providers.aclose()


def test_text_mode_runs_the_cascaded_llm_and_says_why():
    plan = plan_providers(s2s_agent(), env=KEY, audio=False, speech=False)
    assert plan.s2s is None and plan.llm is not None and plan.llm.provider == "smallest"
    assert "s2s: off — text mode runs the llm block (speech_to_speech is for audio calls)" in plan.notes


@pytest.mark.parametrize(
    ("fields", "env", "message"),
    [
        ({}, {}, "speech_to_speech.provider is smallest but SMALLEST_API_KEY is not set"),
        ({"language": "hi"}, KEY, "Hydra speaks English only, but this agent speaks 'hi'"),
        ({"languages": ["en", "hi"]}, KEY, "Hydra speaks English only, but this agent speaks 'hi'"),
    ],
)
def test_an_agent_hydra_cannot_serve_is_refused_before_the_call(fields, env, message):
    with pytest.raises(ProviderSetupError, match=message):
        plan_providers(s2s_agent(**fields), env=env, audio=True)
