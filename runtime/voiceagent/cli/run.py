r"""``voiceagent run``: one live call through a transport.

Normative behaviour: ``shared/spec/agent-format.md`` "CLI". Problems that would stop the call
(missing ``${VARS}``, missing API keys, a language the local stack cannot serve) are reported
before it starts, one line each, and exit 1. Startup lines (which provider and why) go to
stderr; in text mode the conversation goes to stdout, so it can be piped::

    printf 'hello\n' | voiceagent run agents/bank.yaml --text --events call.jsonl

Heavy imports (engine, providers, numpy) happen inside the command so ``voiceagent validate``
stays fast.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from voiceagent.cli import main


def _say(line: str) -> None:
    click.echo(line, err=True)


def _parse_vars(pairs: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint="--var")
        out[key.strip()] = value
    return out


@main.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--text", "text_mode", is_flag=True, help="Type instead of speaking (no STT; no TTS unless --replies).")
@click.option(
    "--input",
    "input_wav",
    type=click.Path(exists=True, dir_okay=False),
    help="Caller recording (WAV) to play through the voice pipeline.",
)
@click.option(
    "--output",
    "output_wav",
    type=click.Path(dir_okay=False),
    help="Where the agent's side is written (WAV, time-aligned with --input).",
)
@click.option("--fast", is_flag=True, help="With --input: stream the recording as fast as possible (virtual clock).")
@click.option(
    "--output-rate",
    type=click.IntRange(8000, 96000),
    help="With --input: sample rate (Hz) of --output/--recording; default the TTS rate.",
)
@click.option(
    "--recording",
    type=click.Path(dir_okay=False),
    help="With --input: also write a stereo call recording (caller left, agent right).",
)
@click.option(
    "--replies", type=click.Path(dir_okay=False), help="Text mode: also synthesize the agent's replies into this WAV."
)
@click.option(
    "--events", "events_path", type=click.Path(dir_okay=False), help="Write the session event log (JSON lines)."
)
@click.option(
    "--var", "var_pairs", multiple=True, metavar="KEY=VALUE", help="Template variable for this call (repeatable)."
)
@click.option("--caller-phone", help="The caller's phone number, as templates see it (caller.phone).")
def run(
    file: str,
    text_mode: bool,
    input_wav: str | None,
    output_wav: str | None,
    fast: bool,
    output_rate: int | None,
    recording: str | None,
    replies: str | None,
    events_path: str | None,
    var_pairs: tuple[str, ...],
    caller_phone: str | None,
) -> None:
    """Run a live call with the agent in FILE.

    Microphone and speaker when the machine has them, otherwise a text conversation (agent replies
    also synthesized to a WAV file when a TTS is available). --text forces text; --input/--output
    play a recorded caller through the whole voice pipeline.
    """
    if bool(input_wav) != bool(output_wav):
        raise click.UsageError("--input and --output go together")
    if input_wav and text_mode:
        raise click.UsageError("--text cannot be combined with --input/--output")
    if (fast or recording or output_rate) and not input_wav:
        raise click.UsageError("--fast, --recording and --output-rate need --input/--output")
    variables = _parse_vars(var_pairs)
    _check_paths(file, input_wav, output_wav=output_wav, recording=recording, replies=replies, events=events_path)

    from voiceagent.config.diagnostics import ConfigError
    from voiceagent.config.load import load_agent
    from voiceagent.providers.base import prestart_of
    from voiceagent.providers.registry import ProviderSetupError, resolve_providers

    env = dict(os.environ)
    try:
        loaded = load_agent(file, env=env)
    except ConfigError as exc:
        errors = [d for d in exc.diagnostics if d.severity == "error"] or exc.diagnostics
        for d in errors:
            _say(d.format())
        sys.exit(1)
    except OSError as exc:
        _say(f"{file}: error: {exc.strerror or exc}")
        sys.exit(1)
    agent = loaded.agent
    for d in loaded.warnings:  # judged on the file as written: "Bearer ${TOKEN}" is no inline secret
        if d.severity == "warning":
            _say(d.format())

    # Transport first: whether the call has audio decides which providers are needed.
    mode = "wav" if input_wav else "text" if text_mode else None
    fallback_note = None
    if mode is None:
        from voiceagent.transports.device import has_audio_devices

        if has_audio_devices():
            mode = "device"
        else:
            mode = "text"
            fallback_note = "transport: text — no microphone/speaker found (use --text to skip this check)"
            if replies is None:
                replies = str(Path(tempfile.gettempdir()) / f"voiceagent-{agent.name}-replies.wav")
    audio = mode != "text"
    try:
        providers = resolve_providers(agent, env=env, audio=audio, speech=audio or replies is not None)
    except ProviderSetupError as exc:
        _say(f"{file}: error: {exc}")
        sys.exit(1)
    prestartable = prestart_of(providers.llm)  # a declared capability (providers.base.LLMCapabilities)
    if prestartable is not None:  # a local model server loads while STT/TTS load and the greeting plays
        prestartable.prestart()
    if fallback_note:
        _say(fallback_note)
    for note in providers.notes:
        _say(note)
    if fast and providers.realtime is not None:  # the realtime model's turn detection runs on wall time
        fast = False
        _say("--fast: off — a speech-to-speech model listens in real time")

    import asyncio

    try:
        code = asyncio.run(
            _call(
                loaded,
                providers,
                mode=mode,
                input_wav=input_wav,
                output_wav=output_wav,
                fast=fast,
                output_rate=output_rate,
                recording=recording,
                replies=replies if providers.tts is not None else None,
                events_path=events_path,
                variables=variables,
                caller_phone=caller_phone,
                env=env,
            )
        )
    except (KeyboardInterrupt, asyncio.CancelledError):
        _say("call interrupted")
        sys.exit(130)
    sys.exit(code)


def _check_paths(
    file: str,
    input_wav: str | None,
    *,
    output_wav: str | None,
    recording: str | None,
    replies: str | None,
    events: str | None,
) -> None:
    """Refuse outputs that overwrite an input (or each other) or cannot be written: one line, exit 2
    for a misuse of the options, exit 1 for an unwritable place (:mod:`voiceagent.cli.paths`).
    """
    from voiceagent.cli.paths import PathProblem, check_outputs

    try:
        check_outputs(
            {"FILE": file, "--input": input_wav},
            {"--output": output_wav, "--recording": recording, "--replies": replies, "--events": events},
        )
    except PathProblem as exc:
        if exc.usage:
            raise click.UsageError(str(exc)) from None
        _say(f"error: {exc}")
        sys.exit(1)


def _make_transport(
    mode: str,
    *,
    input_wav: str | None,
    output_wav: str | None,
    fast: bool,
    output_rate: int | None,
    recording: str | None,
    replies: str | None,
    caller: dict[str, Any],
    tts_rate: int | None,
    eou_timeout_ms: int,
    greeting: bool,
) -> Any:
    if mode == "wav":
        from voiceagent.transports.wav import WavTransport

        assert input_wav is not None and output_wav is not None  # checked by the command
        # fast mode: the virtual clock waits for each reply once the STT must have seen the EOU
        return WavTransport(
            input_wav,
            output_wav,
            fast=fast,
            recording_path=recording,
            caller=caller,
            output_rate=output_rate,
            hold_after_ms=eou_timeout_ms + 300,
            hold_at_start=greeting,
        )
    if mode == "device":
        from voiceagent.transports.device import DeviceTransport

        return DeviceTransport(caller=caller)  # device rates; frames resampled both ways
    from voiceagent.transports.text import TextTransport

    return TextTransport(audio_path=replies, audio_rate=tts_rate, caller=caller, greeting=greeting)


def _hang_up_on_ctrl_c(transport: Any) -> None:
    """First Ctrl-C: the caller hangs up (the transport's input ends, the session finishes its
    turn and logs ``call.end``/``session.end``; exit 0). Second Ctrl-C: stop at once (exit 130).
    """
    import asyncio
    import signal

    loop = asyncio.get_running_loop()
    main_task = asyncio.current_task()
    presses = 0
    hang_ups: set[asyncio.Task[None]] = set()  # a reference, so the task is not collected mid-way

    def on_sigint() -> None:
        nonlocal presses
        presses += 1
        if presses == 1:
            _say("hanging up... (Ctrl-C again to stop at once)")
            hang_ups.add(loop.create_task(transport.aclose()))
        elif main_task is not None:
            main_task.cancel()

    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # not the main thread / platform
        loop.add_signal_handler(signal.SIGINT, on_sigint)


def _freeze_start_up_objects() -> None:
    """Collect start-up garbage once, then move every surviving object into the collector's
    permanent generation (``gc.freeze``), just before the call starts.

    Why: a full (generation 2) collection walks every long-lived object of the imported
    libraries (the openai SDK's hundreds of pydantic types above all). Measured at 100 calls in
    one process, one such pass stalled the event loop for ~100 ms (a gap in the caller's audio
    and the p99 of the turn latency); after ``gc.freeze()`` 15-34 ms
    (docs/performance.md, Profile §2). The frozen objects are the agent, providers and imported
    modules, which live for the whole call anyway; objects that die are still freed by
    reference counting, only cycles among them would wait for :func:`gc.unfreeze` (called when
    the call ends). The ``gc.collect()`` first keeps start-up garbage out of the frozen set; it
    costs one full pass (~50 ms for ~100 000 objects on the benchmark VM) before the greeting.
    """
    gc.collect()
    gc.freeze()


async def _call(
    loaded: Any,
    providers: Any,
    *,
    mode: str,
    input_wav: str | None,
    output_wav: str | None,
    fast: bool,
    output_rate: int | None,
    recording: str | None,
    replies: str | None,
    events_path: str | None,
    variables: dict[str, str],
    caller_phone: str | None,
    env: dict[str, str],
) -> int:
    """Build everything for one call, run it, and close everything (also on Ctrl-C). Returns the
    exit code: 0 when the call ended normally, 1 when it failed.
    """
    from voiceagent.demo_tickets import demo_ticket_service
    from voiceagent.engine.call import build_call
    from voiceagent.engine.redaction import Redactor

    agent = loaded.agent
    caller: dict[str, Any] = {"phone": caller_phone, "id": None, "metadata": {}}
    scrub = Redactor(agent.guardrails.redact, env=env).scrub  # errors raised before the call exists
    transport = None
    call = None
    code = 1
    demo = contextlib.ExitStack()
    try:
        tickets = demo.enter_context(demo_ticket_service(agent, env))
        if tickets is not None:
            _say(f"tickets: demo service on {tickets.url} (stored in {tickets.db_path})")
        transport = _make_transport(
            mode,
            input_wav=input_wav,
            output_wav=output_wav,
            fast=fast,
            output_rate=output_rate,
            recording=recording,
            replies=replies,
            caller=caller,
            tts_rate=providers.tts.sample_rate if providers.tts is not None else None,
            eou_timeout_ms=agent.stt.eou_timeout_ms,
            greeting=bool(agent.greeting),
        )
        _hang_up_on_ctrl_c(transport)
        call = build_call(loaded, providers, transport, events_path=events_path, variables=variables, env=env)
        scrub = call.redactor.scrub
        _freeze_start_up_objects()
        reason = await call.run()
        failure = call.session.end_error
        if failure:  # the runtime had to end the call (the caller heard last words): say why, exit 1
            _say(f"error: the call failed ({reason}): {scrub(failure.removeprefix('ProviderError: '))}")
            code = 1
        else:
            _say(f"call ended: {reason}")
            code = 0
    except Exception as exc:  # noqa: BLE001 - one clear line, never a traceback with secrets
        _say(f"error: {_describe(exc, scrub)}")
        code = 1
    finally:
        gc.unfreeze()  # back to normal collection for what follows (in-process callers, tests)
        if transport is not None:
            try:
                await transport.aclose()
            except Exception as exc:  # noqa: BLE001
                _say(f"error: could not finish the transport: {exc}")
        try:
            await providers.aclose()
            if call is not None:
                await call.aclose()  # closes the event log: a full disk shows here
        except Exception as exc:  # noqa: BLE001 - one line, never a traceback
            _say(f"error: could not finish the call cleanly: {_describe(exc, scrub)}")
            code = 1
        demo.close()
        if mode == "wav" and output_wav:
            _say(f"agent audio: {output_wav}" + (f"; call recording: {recording}" if recording else ""))
        elif replies:
            _say(f"agent replies (synthesized): {replies}")
        if events_path:
            _say(f"events: {events_path}")
    return code


def _describe(exc: BaseException, scrub: Any) -> str:
    """One line for ``exc``: an OSError as ``path: reason``, a MemoryError said in words, else
    its (scrubbed) text or class name.
    """
    if isinstance(exc, MemoryError):
        return "out of memory"
    if isinstance(exc, OSError) and exc.strerror:
        where = f"{exc.filename}: " if exc.filename else ""
        return str(scrub(f"{where}{exc.strerror}"))
    return str(scrub(str(exc))) or type(exc).__name__
