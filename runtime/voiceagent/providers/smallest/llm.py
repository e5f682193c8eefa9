"""Smallest AI Electron: the OpenAI-compatible chat LLM at ``/waves/v1/chat/completions``.

OpenAI SDK ``base_url`` is ``https://api.smallest.ai/waves/v1``, not ``/v1``; ``Authorization:
Bearer <SMALLEST_API_KEY>``; ``model: "electron"``; 429/502/503 are retryable; ``X-Request-Id`` on
every response. Source: https://github.com/smallest-inc/smallest-ai-documentation/blob/main/fern/apis/waves/openapi/electron-openapi.yaml
"""

from __future__ import annotations

from voiceagent.providers.openai_compat import OpenAICompatLLM
from voiceagent.providers.smallest._common import resolve_api_key, resolve_base_url

__all__ = ["ELECTRON_MODEL", "electron_llm"]

ELECTRON_MODEL = "electron"


def electron_llm(
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    model: str | None = ELECTRON_MODEL,
    timeout_s: float = 20.0,
    max_retries: int = 2,
    deadline_s: float = 30.0,
) -> OpenAICompatLLM:
    """An :class:`OpenAICompatLLM` named ``smallest`` for Electron.

    base_url: the argument, else env ``SMALLEST_BASE_URL`` (e.g. a fake server's
        ``http://127.0.0.1:PORT/waves/v1``), else ``https://api.smallest.ai/waves/v1``.
    api_key: the argument, else env ``SMALLEST_API_KEY``.
    model: ``electron`` (the only model) when None or not given.
    timeout_s / max_retries / deadline_s: as for :class:`OpenAICompatLLM`.
    Raises :class:`~voiceagent.providers.base.ProviderError` when no key is available (the
    message names the variable, never a value).
    """
    return OpenAICompatLLM(
        base_url=resolve_base_url(base_url),
        api_key=resolve_api_key(api_key),
        model=model or ELECTRON_MODEL,
        name="smallest",
        timeout_s=timeout_s,
        max_retries=max_retries,
        deadline_s=deadline_s,
    )
