"""The llama.cpp server child process behind :class:`voiceagent.providers.local.llm.LocalLLM`.

llama-cpp-python's OpenAI-compatible server
(https://llama-cpp-python.readthedocs.io/en/latest/server/), started through
:mod:`voiceagent.providers.local.llama_child` (grammars checked lazily,
:mod:`~voiceagent.providers.local.lazy_grammar`), on 127.0.0.1 and a free port, its log
in a temporary file, stopped with the parent (``PR_SET_PDEATHSIG`` on Linux, ``atexit``
elsewhere).

Prompt cache on disk: with ``prompt_cache`` on, the server runs with
:class:`voiceagent.providers.local.prompt_cache.PromptStateCache` in a per-model cache
directory, so the KV state of an evaluated prompt (the agent's system prompt and tools, pre-filled
by ``LocalLLM.warm_up``) is saved after each completion and restored by the next process whose
prompt starts the same way: a second run of the same agent skips the cold prompt evaluation
(seconds on a small CPU).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from voiceagent.providers.base import ProviderError
from voiceagent.providers.local.burst_threads import BURST_ENV
from voiceagent.providers.local.prompt_cache import CACHE_DIR_ENV

__all__ = ["LlamaServer", "prompt_cache_dir", "single_token_id"]

PROMPT_CACHE_BYTES = 256 << 20
"""Disk budget of the prompt cache (llama-cpp-python evicts the oldest states beyond it)."""


def prompt_cache_dir(model_path: Path, n_ctx: int) -> Path:
    """Where the server's prompt states for ``model_path`` at context ``n_ctx`` are kept:
    ``<model cache dir>/prompt-cache/<model stem>-<size>-ctx<n_ctx>-llama<version>`` (a state is
    only valid for the model, context size and llama.cpp build that made it).
    """
    from importlib.metadata import PackageNotFoundError, version

    from voiceagent.providers.local.joined import model_cache_dir

    try:
        build = version("llama_cpp_python")
    except PackageNotFoundError:
        build = "unknown"
    try:
        size = model_path.stat().st_size
    except OSError:
        size = 0
    return model_cache_dir() / "prompt-cache" / f"{model_path.stem}-{size}-ctx{n_ctx}-llama{build}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: have the kernel send SIGTERM to the server if this process dies (PR_SET_PDEATHSIG)."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):  # no glibc or no prctl: nothing to arm
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    """Stop a child server: SIGTERM, then SIGKILL after 5 s."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)


class LlamaServer:
    """One llama.cpp server process.

    model_path: the GGUF (None: :func:`voiceagent.providers.local.gguf.ensure_gguf`, joined from
        the PyPI parts on first use).
    n_ctx / n_threads / n_threads_batch: llama.cpp context size (tokens) and thread counts.
    burst_threads: decoding threads for each completion's first sentence
        (:mod:`voiceagent.providers.local.burst_threads`; at or below ``n_threads``: off).
    prompt_cache: keep evaluated prompt states on disk across runs (see the module docstring).
    startup_timeout_s: how long :meth:`url` waits for ``GET /v1/models`` to answer.

    :meth:`launch` starts the process and returns at once (call it as early as possible);
    :meth:`url` waits until it answers. Both are idempotent.
    """

    def __init__(
        self,
        *,
        model_path: Path | None,
        n_ctx: int,
        n_threads: int,
        n_threads_batch: int,
        burst_threads: int = 0,
        prompt_cache: bool = True,
        startup_timeout_s: float = 120.0,
    ) -> None:
        self.model_path = model_path
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.n_threads_batch = n_threads_batch
        self.burst_threads = burst_threads
        self.prompt_cache = prompt_cache
        self.startup_timeout_s = startup_timeout_s
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None
        self.cache_dir: Path | None = None
        self._port: int | None = None
        self._atexit: Any = None

    # ------------------------------------------------------------------ start
    def launch(self) -> None:
        """Start the process now without waiting for it to answer (joins the model parts first
        if they were never joined: seconds, once per machine). Idempotent.

        Call it from a thread that lives as long as the server: on Linux the child is stopped
        when the thread that started it exits (``PR_SET_PDEATHSIG``).

        Raises:
            ProviderError: llama-cpp-python or the model packages are missing.
        """
        if self.proc is None:
            self._popen()

    def _popen(self) -> None:
        try:
            import llama_cpp.server  # noqa: F401 - presence check only
        except ImportError as exc:
            raise ProviderError(
                f"the local LLM needs llama-cpp-python[server] (pip install the project's [local] extra): {exc}"
            ) from exc
        if self.model_path is None:
            from voiceagent.providers.local.gguf import ensure_gguf

            self.model_path = ensure_gguf()
        self._port = _free_port()
        fd, log_name = tempfile.mkstemp(prefix="voiceagent-llama-", suffix=".log")
        self.log_path = Path(log_name)
        cmd = [
            sys.executable,
            "-m",
            "voiceagent.providers.local.llama_child",
            "--model",
            str(self.model_path),
            "--host",
            "127.0.0.1",
            "--port",
            str(self._port),
            "--n_ctx",
            str(self.n_ctx),
            "--n_threads",
            str(self.n_threads),
            "--n_threads_batch",
            str(self.n_threads_batch),
            "--n_batch",
            "512",
            "--verbose",
            "False",
        ]
        env = dict(os.environ)
        env.pop(BURST_ENV, None)
        if self.burst_threads > self.n_threads:
            env[BURST_ENV] = str(self.burst_threads)
        if self.prompt_cache:
            self.cache_dir = prompt_cache_dir(Path(self.model_path), self.n_ctx)
            cmd += ["--cache", "true", "--cache_type", "disk", "--cache_size", str(PROMPT_CACHE_BYTES)]
            env[CACHE_DIR_ENV] = str(self.cache_dir)
        else:
            env.pop(CACHE_DIR_ENV, None)
        src = str(Path(__file__).resolve().parents[3])  # this package, however it was found
        env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=fd,
            stderr=subprocess.STDOUT,
            env=env,
            # PR_SET_PDEATHSIG can only be set in the child, between fork and exec; without it a
            # crashed parent leaves the server running.
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509
        )
        os.close(fd)
        self._atexit = functools.partial(_terminate, self.proc)
        atexit.register(self._atexit)

    async def url(self) -> str:
        """``http://127.0.0.1:PORT/v1`` once the server answers; launches it if needed.

        Raises:
            ProviderError: llama-cpp-python or the model is missing, or the server exited or did
                not answer within ``startup_timeout_s`` (with the tail of its log).
        """
        last = "did not start"
        for _ in range(2):  # a second try if another process grabbed the port meanwhile
            if self.proc is None:
                if self.model_path is None:
                    from voiceagent.providers.local.gguf import ensure_gguf

                    self.model_path = await asyncio.to_thread(ensure_gguf)
                self.launch()
            url = f"http://127.0.0.1:{self._port}/v1"
            try:
                await self._wait_ready(url)
                return url
            except ProviderError as exc:
                last = str(exc)
                await self.aclose()
        raise ProviderError(f"local LLM server {last}")

    async def _wait_ready(self, url: str) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        async with httpx.AsyncClient(timeout=2.0) as http:
            while time.monotonic() < deadline:
                assert self.proc is not None
                if self.proc.poll() is not None:
                    raise ProviderError(f"exited with code {self.proc.returncode}: {self.log_tail()}")
                try:
                    if (await http.get(f"{url}/models")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
        raise ProviderError(f"did not answer within {self.startup_timeout_s:g} s: {self.log_tail()}")

    def log_tail(self, n: int = 600) -> str:
        """The last ``n`` characters of the server's log (``(no output)`` when empty)."""
        try:
            text = self.log_path.read_text(errors="replace") if self.log_path else ""
        except OSError:
            text = ""
        lines = [ln for ln in text.splitlines() if not ln.startswith("LlamaDiskCache")]
        return "\n".join(lines)[-n:].strip() or "(no output)"

    async def aclose(self) -> None:
        """Stop the process (SIGTERM, SIGKILL after 5 s) and delete its log. Idempotent."""
        if self.proc is not None:
            proc, self.proc = self.proc, None
            await asyncio.to_thread(_terminate, proc)
            if self._atexit is not None:
                atexit.unregister(self._atexit)
                self._atexit = None
        if self.log_path is not None:
            self.log_path.unlink(missing_ok=True)
            self.log_path = None


async def single_token_id(base_url: str, text: str) -> int | None:
    """The id of ``text`` when the server's tokenizer makes it one token, else None.

    Uses llama-cpp-python's ``POST /extras/tokenize`` (special tokens parsed); other servers lack
    it, and any HTTP error or odd answer gives None. ``base_url``: ``http://HOST:PORT/v1``.
    Server routes: https://llama-cpp-python.readthedocs.io/en/latest/server/
    """
    root = base_url[:-3] if base_url.endswith("/v1") else base_url
    try:
        async with httpx.AsyncClient(timeout=5.0) as http:
            response = await http.post(f"{root}/extras/tokenize", json={"input": text})
        tokens = response.json().get("tokens") if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError, AttributeError):
        return None
    return tokens[0] if isinstance(tokens, list) and len(tokens) == 1 and isinstance(tokens[0], int) else None
