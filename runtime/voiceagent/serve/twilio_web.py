"""Twilio's HTTP side: the voice webhook's TwiML, its ``X-Twilio-Signature`` check, and the REST
call update used to transfer or hang up a call.

* Signature (https://www.twilio.com/docs/usage/webhooks/webhooks-security): base64 of the
  HMAC-SHA1, keyed with the auth token, of the full URL Twilio requested followed by every POST
  parameter's name and value, sorted by name.
* TwiML ``<Connect><Stream>`` (https://www.twilio.com/docs/voice/twiml/stream) with the caller's
  ``From``/``To``/``CallSid`` as ``<Parameter>``s (they arrive in the stream's ``start``).
* Call update (https://www.twilio.com/docs/voice/api/call-resource#update-a-call-resource):
  ``POST /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json`` with ``Twiml=<Response><Dial>``
  to transfer, ``Status=completed`` to hang up; HTTP basic auth with the account SID and token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from typing import Any
from xml.sax.saxutils import escape as xml_escape
from xml.sax.saxutils import quoteattr

import httpx

__all__ = [
    "TwilioRest",
    "busy_twiml",
    "compute_signature",
    "signature_valid",
    "stream_twiml",
]

API_BASE = "https://api.twilio.com"
BUSY_MESSAGE = "Sorry, all our lines are busy right now. Please call again later."
STREAM_PARAMETERS = ("From", "To", "CallSid")


def compute_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]] | Mapping[str, str]) -> str:
    """The ``X-Twilio-Signature`` Twilio would send for a POST of ``params`` to ``url``."""
    items = params.items() if isinstance(params, Mapping) else params
    data = url + "".join(k + v for k, v in sorted(items, key=lambda kv: kv[0]))
    digest = hmac.new(auth_token.encode("utf-8"), data.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def signature_valid(
    auth_token: str, url: str, params: Iterable[tuple[str, str]] | Mapping[str, str], signature: str | None
) -> bool:
    """Whether ``signature`` is Twilio's for this request (constant-time comparison)."""
    if not signature or not auth_token:
        return False
    expected = compute_signature(auth_token, url, list(params.items() if isinstance(params, Mapping) else params))
    return hmac.compare_digest(expected.encode("ascii"), signature.encode("ascii", "replace"))


def stream_twiml(stream_url: str, parameters: Mapping[str, str]) -> str:
    """``<Connect><Stream url=...>`` with one ``<Parameter>`` per item."""
    params = "".join(
        f"<Parameter name={quoteattr(k)} value={quoteattr(v)}/>" for k, v in parameters.items() if v is not None
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<Response><Connect><Stream url={quoteattr(stream_url)}>{params}</Stream></Connect></Response>"
    )


def busy_twiml(message: str = BUSY_MESSAGE) -> str:
    """A short spoken busy message, then hang up."""
    return f'<?xml version="1.0" encoding="UTF-8"?><Response><Say>{xml_escape(message)}</Say><Hangup/></Response>'


def dial_twiml(number: str) -> str:
    """``<Dial>number</Dial>``: Twilio connects the caller to ``number`` (a phone number or SIP URI)."""
    inner = f"<Sip>{xml_escape(number)}</Sip>" if number.startswith("sip:") else xml_escape(number)
    return f'<?xml version="1.0" encoding="UTF-8"?><Response><Dial>{inner}</Dial></Response>'


class TwilioRest:
    """The Twilio REST calls a served call needs (transfer, hang-up).

    Args:
        account_sid: ``TWILIO_ACCOUNT_SID``. auth_token: ``TWILIO_AUTH_TOKEN`` (never logged).
        base_url: the API root (``TWILIO_API_BASE_URL`` for a local fake; default Twilio's).
        timeout_s: per request.
    """

    def __init__(self, account_sid: str, auth_token: str, *, base_url: str | None = None, timeout_s: float = 10.0):
        self.account_sid = account_sid
        self._auth = (account_sid, auth_token)
        self.base_url = (base_url or API_BASE).rstrip("/")
        self.timeout_s = timeout_s

    def __repr__(self) -> str:  # never shows the token
        return f"TwilioRest(account_sid={self.account_sid!r}, base_url={self.base_url!r})"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> TwilioRest | None:
        """A client when ``TWILIO_ACCOUNT_SID`` and ``TWILIO_AUTH_TOKEN`` are both set, else None."""
        sid, token = env.get("TWILIO_ACCOUNT_SID"), env.get("TWILIO_AUTH_TOKEN")
        if not sid or not token:
            return None
        return cls(sid, token, base_url=env.get("TWILIO_API_BASE_URL") or None)

    async def update_call(self, call_sid: str, data: Mapping[str, str]) -> dict[str, Any]:
        """POST a call update; returns ``{"status": HTTP status, "error": message or None}``
        (never raises: the caller of this decides what a failure means for the call).
        """
        url = f"{self.base_url}/2010-04-01/Accounts/{self.account_sid}/Calls/{call_sid}.json"
        try:
            async with httpx.AsyncClient(timeout=self.timeout_s) as client:
                response = await client.post(url, data=dict(data), auth=self._auth)
        except httpx.HTTPError as exc:
            return {"status": None, "error": f"{type(exc).__name__}: {exc}"}
        error = None if response.is_success else response.text[:200]
        return {"status": response.status_code, "error": error}

    async def transfer(self, call_sid: str, number: str) -> dict[str, Any]:
        """Redirect the call to ``<Dial>number</Dial>`` (the stream ends; Twilio dials)."""
        return await self.update_call(call_sid, {"Twiml": dial_twiml(number)})

    async def hang_up(self, call_sid: str) -> dict[str, Any]:
        """End the call (``Status=completed``)."""
        return await self.update_call(call_sid, {"Status": "completed"})
