"""Planning and building the ``openai`` LLM provider (any OpenAI-compatible endpoint): the
``plan``/``build`` functions its row in :mod:`voiceagent.providers.table` names.

The endpoint is ``llm.base_url`` or ``$OPENAI_BASE_URL`` (default https://api.openai.com/v1); the
key comes from ``$<llm.api_key_env>`` or ``$OPENAI_API_KEY`` and is optional when a base URL is
given (local servers such as llama.cpp accept any key).
"""

from __future__ import annotations

from collections.abc import Mapping

from voiceagent.config.models import Agent
from voiceagent.providers.base import LLM
from voiceagent.providers.registry import Choice, ProviderSetupError, clean

KEY = "OPENAI_API_KEY"
BASE_URL = "OPENAI_BASE_URL"
DEFAULT_MODEL = "gpt-4o-mini"


def plan_llm(agent: Agent, env: Mapping[str, str], why: str) -> Choice:
    """The endpoint, model and where the key comes from.

    Raises:
        ProviderSetupError: the key variable is not set (and no base URL makes it optional).
    """
    cfg = agent.llm
    base_url = clean(cfg.base_url) or clean(env.get(BASE_URL))
    key_env = cfg.api_key_env or KEY
    if not env.get(key_env) and (cfg.api_key_env or not base_url):
        raise ProviderSetupError(
            f"llm.provider is openai but {key_env} is not set: export {key_env}=..."
            + ("" if base_url else f" (or point llm.base_url / {BASE_URL} at a local server)")
        )
    where = base_url or "https://api.openai.com/v1"
    why = f"llm.provider: openai, key from {key_env}" if env.get(key_env) else "llm.provider: openai, no key needed"
    return Choice("llm", "openai", f"openai-compatible {cfg.model or DEFAULT_MODEL} at {where}", why)


def build_llm(choice: Choice, agent: Agent, env: Mapping[str, str]) -> LLM:
    """An :class:`~voiceagent.providers.openai_compat.OpenAICompatLLM` (in structured turns with
    ``llm.structured: true``).
    """
    from voiceagent.providers.openai_compat import OpenAICompatLLM
    from voiceagent.providers.structured.llm import structured_if

    cfg = agent.llm
    llm = OpenAICompatLLM(
        base_url=clean(cfg.base_url) or clean(env.get(BASE_URL)),
        api_key=env.get(cfg.api_key_env or KEY) or "not-needed",
        model=cfg.model or DEFAULT_MODEL,
        name="openai",
    )
    return structured_if(llm, cfg.structured)
