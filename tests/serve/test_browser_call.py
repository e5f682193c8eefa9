"""The browser call page in real headless Chromium: the fake microphone plays a caller WAV, the
agent hears it (Pulse receives the caller's 16 kHz audio and transcribes it), the page shows
both sides' words, hang-up ends the call, and the console stays free of errors."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from serve_helpers import SAMPLES, fakes, hours_agent, read_events, running_server
from voiceagent.transports.wav import read_wav, write_wav

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
DRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or DRIVER is None,
    reason="needs Chromium and chromedriver (Debian: apt-get install chromium chromium-driver; scripts/system-deps.sh)",
)
REPLY = "We are open from nine in the morning to five in the evening."
SCREENSHOT = os.environ.get("VOICEAGENT_SCREENSHOT")  # set to write the docs' screenshot


def fake_mic_wav(tmp_path: Path) -> Path:
    """Chromium loops the file: 1.5 s of quiet (the greeting plays), the question, then 8 s of quiet."""
    question = read_wav(SAMPLES / "hello.wav", 48000).to_numpy()
    quiet = np.zeros(48000 * 3 // 2, "<i2")
    pcm = np.concatenate([quiet, question, np.zeros(48000 * 8, "<i2")])
    path = tmp_path / "mic.wav"
    write_wav(path, pcm.tobytes(), 48000)
    return path


def make_driver(mic: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
        "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={mic}", "--autoplay-policy=no-user-gesture-required",
        "--window-size=1280,900",
    ):  # fmt: skip
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(DRIVER))


def wait_until(driver, predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate(driver)
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out; page text:\n" + driver.find_element("tag name", "body").text)


def lines(driver, role):
    return [e.text for e in driver.find_elements("css selector", f"#transcript li[data-role='{role}']")]


async def test_browser_page_holds_a_real_call(tmp_path):
    from selenium.webdriver.common.by import By

    agent = hours_agent(tmp_path)
    mic = fake_mic_wav(tmp_path)
    async with fakes(["when are you open"]) as f:
        f.llm.script(REPLY)
        async with running_server([agent], f.env(), events_dir=tmp_path / "ev", auth_token="page-token") as srv:
            url = f"{srv.http}/call/hours?token=page-token"

            def drive():
                driver = make_driver(mic)
                try:
                    driver.get(f"{srv.http}/call/hours")  # without the token: refused, nothing served
                    assert "unauthorized" in driver.find_element(By.TAG_NAME, "body").text
                    refused = driver.get_log("browser")  # reading the log empties it
                    assert all("401" in entry["message"] for entry in refused), refused
                    driver.get(url)
                    driver.find_element(By.CSS_SELECTOR, '[data-action="call"]').click()
                    wait_until(driver, lambda d: REPLY in " ".join(lines(d, "agent")), timeout=40)
                    assert lines(driver, "caller") == ["when are you open"]
                    assert lines(driver, "agent")[0] == "Hello, how can I help?"
                    wait_until(driver, lambda d: d.find_element(By.ID, "latency").text.endswith("ms"))
                    assert driver.find_element(By.ID, "state").text == "main"
                    if SCREENSHOT:
                        time.sleep(1.0)
                        driver.save_screenshot(SCREENSHOT)
                    driver.find_element(By.CSS_SELECTOR, '[data-action="hangup"]').click()
                    wait_until(driver, lambda d: d.find_element(By.ID, "status").text.startswith("ended"))
                    wait_until(driver, lambda d: d.find_element(By.CSS_SELECTOR, '[data-action="call"]').is_enabled())
                    logs = driver.get_log("browser")
                    return [entry for entry in logs if entry["level"] == "SEVERE"]
                finally:
                    driver.quit()

            errors = await asyncio.to_thread(drive)
            assert await srv.ctx.registry.wait_empty(15)
    assert errors == []
    logs = list((tmp_path / "ev" / "hours").glob("*.jsonl"))
    assert len(logs) == 1
    events = read_events(logs[0])
    assert [e["text"] for e in events if e["type"] == "user.transcript"] == ["when are you open"]
    assert events[-1]["type"] == "session.end" and events[-1]["reason"] == "caller_ended"
    # the agent heard the caller: Pulse got the page's 16 kHz microphone audio, speech included
    conn = f.smallest.pulse.connections[0]
    assert conn.params["sample_rate"] == "16000" and conn.audio_bytes > 16000 * 2 * 2


async def test_autostart_starts_the_call_on_load(tmp_path):
    from selenium.webdriver.common.by import By

    agent = hours_agent(tmp_path)
    mic = fake_mic_wav(tmp_path)
    async with fakes(["when are you open"]) as f:
        f.llm.script(REPLY)
        async with running_server([agent], f.env()) as srv:

            def drive():
                driver = make_driver(mic)
                try:
                    driver.get(f"{srv.http}/call/hours?autostart=1")
                    wait_until(driver, lambda d: lines(d, "agent"))
                    assert not driver.find_element(By.CSS_SELECTOR, '[data-action="call"]').is_enabled()
                    driver.find_element(By.CSS_SELECTOR, '[data-action="hangup"]').click()
                    wait_until(driver, lambda d: d.find_element(By.ID, "status").text.startswith("ended"))
                finally:
                    driver.quit()

            await asyncio.to_thread(drive)
            assert await srv.ctx.registry.wait_empty(15)


LONG_REPLY = (
    "We are open from nine in the morning until five in the evening on weekdays, "
    "and from ten until two on saturdays, but we are closed on sundays and on public holidays."
)


async def test_barge_in_flushes_the_pages_queued_audio_at_once(tmp_path):
    from selenium.webdriver.common.by import By

    agent = hours_agent(tmp_path)
    hello = read_wav(SAMPLES / "hello.wav", 48000).to_numpy()
    speech = hello[np.abs(hello) > 300]
    quiet = np.zeros(48000 * 3 // 2, "<i2")
    # the caller asks, waits 1.2 s (the reply starts), then talks over it
    pcm = np.concatenate(
        [quiet, hello, np.zeros(int(48000 * 1.2), "<i2"), speech[: 48000 * 2], np.zeros(48000 * 8, "<i2")]
    )
    mic = tmp_path / "mic.wav"
    write_wav(mic, pcm.astype("<i2").tobytes(), 48000)
    async with fakes(["when are you open", "sorry what about sunday"]) as f:
        f.llm.script(LONG_REPLY, "Closed on sundays.")
        async with running_server([agent], f.env(), events_dir=tmp_path / "ev") as srv:

            def drive():
                driver = make_driver(mic)
                try:
                    driver.get(f"{srv.http}/call/hours")
                    driver.find_element(By.CSS_SELECTOR, '[data-action="call"]').click()
                    wait_until(driver, lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-flushes"), 40)
                    wait_until(driver, lambda d: "Closed on sundays." in " ".join(lines(d, "agent")), 40)
                    body = driver.find_element(By.TAG_NAME, "body")
                    dropped = int(body.get_attribute("data-dropped-ms") or 0)
                    interrupted = driver.find_elements(By.CSS_SELECTOR, "#transcript li.interrupted")
                    driver.find_element(By.CSS_SELECTOR, '[data-action="hangup"]').click()
                    wait_until(driver, lambda d: d.find_element(By.ID, "status").text.startswith("ended"))
                    return dropped, len(interrupted), [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
                finally:
                    driver.quit()

            dropped, interrupted, errors = await asyncio.to_thread(drive)
            assert await srv.ctx.registry.wait_empty(15)
    assert errors == []
    assert interrupted >= 1
    # the reply was ~7 s of audio, queued at once; the barge-in dropped most of it on the spot
    assert dropped > 2000
    events = read_events(next((tmp_path / "ev" / "hours").glob("*.jsonl")))
    cut = next(e for e in events if e["type"] == "agent.interrupted")
    said = next(e for e in events if e["type"] == "agent.text" and e["turn"] == cut["turn"])
    assert said["interrupted"] is True and "public holidays" not in said["text"]
