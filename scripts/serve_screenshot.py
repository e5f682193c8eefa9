"""Take docs/img/browser-call.png: the browser call page holding a real call in headless Chromium.

The call goes to agents/support.yaml through the real server, against the local Smallest and
Electron fakes (no network); the microphone plays samples/account_question.wav. Run:
``PYTHONPATH=runtime .venv/bin/python scripts/serve_screenshot.py``.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "serve"))

from serve_helpers import AGENTS, SAMPLES, fakes, running_server  # noqa: E402
from test_browser_call import make_driver, wait_until  # noqa: E402
from voiceagent.testing.fake_openai_replies import ToolCall, ToolCallReply  # noqa: E402
from voiceagent.transports.wav import read_wav, write_wav  # noqa: E402

OUT = ROOT / "docs" / "img" / "browser-call.png"


async def main() -> None:
    mic = Path(tempfile.mkdtemp()) / "mic.wav"
    question = read_wav(SAMPLES / "account_question.wav", 48000).to_numpy()
    pcm = np.concatenate([np.zeros(48000 * 3, "<i2"), question, np.zeros(48000 * 12, "<i2")])
    write_wav(mic, pcm.tobytes(), 48000)
    async with fakes(["Hi, can you check my account? The number is 12345."], first_audio_delay_ms=120) as f:
        f.llm.script(
            ToolCallReply([ToolCall("get_account_info", {"account_id": "12345"})]),
            "Thanks Priya. You are on the Pro plan, and your balance due is forty two dollars fifty.",
        )
        async with running_server([AGENTS / "support.yaml"], f.env()) as srv:

            def drive() -> None:
                driver = make_driver(mic)
                try:
                    driver.get(f"{srv.http}/call/acme-support")
                    driver.find_element("css selector", '[data-action="call"]').click()
                    wait_until(driver, lambda d: d.find_element("id", "latency").text.endswith("ms"), timeout=60)
                    time.sleep(1.5)
                    driver.save_screenshot(str(OUT))
                    driver.find_element("css selector", '[data-action="hangup"]').click()
                    time.sleep(0.5)
                finally:
                    driver.quit()

            await asyncio.to_thread(drive)
            await srv.ctx.registry.wait_empty(15)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    asyncio.run(main())
