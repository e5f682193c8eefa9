"""The μ-law tables against G.711's reference values, and the Twilio signature against Twilio's
documented examples (independent of our own signing code)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import warnings

import numpy as np
import pytest
from voiceagent.serve.twilio_web import busy_twiml, compute_signature, signature_valid, stream_twiml
from voiceagent.transports import mulaw

# ITU-T G.711 μ-law decoding of code words 0x00..0x0F and 0xF0..0xFF (the published table).
G711_FIRST = [-32124, -31100, -30076, -29052, -28028, -27004, -25980, -24956,
              -23932, -22908, -21884, -20860, -19836, -18812, -17788, -16764]  # fmt: skip
G711_LAST = [120, 112, 104, 96, 88, 80, 72, 64, 56, 48, 40, 32, 24, 16, 8, 0]


def test_decode_matches_the_g711_table():
    table = np.frombuffer(mulaw.decode(bytes(range(256))), "<i2")
    assert table[:16].tolist() == G711_FIRST
    assert table[0xF0:].tolist() == G711_LAST
    assert table[0x80] == 32124 and table[0x7F] == 0 and table[0xFF] == 0
    # the two halves mirror each other: code c and c | 0x80 are the same magnitude, opposite sign
    assert (table[:128] == -table[128:]).all()


def test_encode_inverts_decode_and_clips():
    codes = bytes(c for c in range(256) if c != 0x7F)  # 0x7F is "negative zero": encodes back to 0xFF
    assert mulaw.encode(mulaw.decode(codes)) == codes
    extremes = np.array([0, -4, 32767, -32768, 32124, -32124, 8, -8], "<i2").tobytes()
    assert list(mulaw.encode(extremes)) == [0xFF, 0x7E, 0x80, 0x00, 0x80, 0x00, 0xFE, 0x7E]


def test_encode_matches_audioop_when_python_still_has_it():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        audioop = pytest.importorskip("audioop")
    pcm = np.arange(-32768, 32768, dtype="<i2").tobytes()
    assert mulaw.encode(pcm) == audioop.lin2ulaw(pcm, 2)
    assert mulaw.decode(bytes(range(256))) == audioop.ulaw2lin(bytes(range(256)), 2)


def test_encode_rejects_odd_bytes():
    with pytest.raises(ValueError):
        mulaw.encode(b"\x00\x01\x02")


DOC_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"


@pytest.mark.parametrize(
    ("caller", "expected"),
    [
        ("+12349013030", "0/KCTR6DLpKmkAf8muzZqo1nDgQ="),  # twilio.com/docs/usage/webhooks/webhooks-security
        ("+14158675309", "RSOYDt4T1cUTdK1PDd93/VVr8B8="),  # the official SDKs' RequestValidator test
    ],
)
def test_signature_matches_twilios_documented_examples(caller, expected):
    params = {"CallSid": "CA1234567890ABCDE", "Caller": caller, "Digits": "1234", "From": caller, "To": "+18005551212"}
    assert compute_signature("12345", DOC_URL, params) == expected
    assert signature_valid("12345", DOC_URL, params, expected)
    # independent: the documented algorithm spelled out with hmac directly
    data = DOC_URL + "".join(k + params[k] for k in sorted(params))
    assert base64.b64encode(hmac.new(b"12345", data.encode(), hashlib.sha1).digest()).decode() == expected


def test_signature_refuses_tampering():
    params = {"From": "+15550001111", "CallSid": "CA1"}
    good = compute_signature("secret", "https://x.example/twilio/a", params)
    assert not signature_valid("secret", "https://x.example/twilio/a", {**params, "From": "+1999"}, good)
    assert not signature_valid("secret", "https://x.example/twilio/b", params, good)
    assert not signature_valid("other", "https://x.example/twilio/a", params, good)
    assert not signature_valid("secret", "https://x.example/twilio/a", params, None)
    assert not signature_valid("secret", "https://x.example/twilio/a", params, "")
    assert not signature_valid("secret", "https://x.example/twilio/a", params, "ünïcode")


def test_twiml_escapes_caller_controlled_values():
    xml = stream_twiml("wss://x.example/twilio/a/stream", {"From": '"><Hangup/>', "To": "+1", "CallSid": "CA&1"})
    assert "<Hangup/>" not in xml.replace("&lt;Hangup/&gt;", "")
    assert 'value="CA&amp;1"' in xml
    assert "<Say>" in busy_twiml() and "<Hangup/>" in busy_twiml()
