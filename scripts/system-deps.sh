#!/usr/bin/env bash
# Debian packages the runtime needs: espeak-ng (offline TTS for languages without a Piper voice,
# e.g. Hindi, and the sample caller recordings), flite (a second caller voice for `voiceagent test
# --caller-voice` and the CI end-to-end test), libportaudio2 (microphone/speaker through
# sounddevice), sox (inspecting audio), and chromium + chromium-driver (the browser call page's
# tests in headless Chromium, tests/serve/test_browser_call.py). Installs only what is missing;
# needs root or sudo.
set -euo pipefail
pkgs=(espeak-ng flite libportaudio2 sox chromium chromium-driver)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
[[ ${#missing[@]} -eq 0 ]] && exit 0
sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
