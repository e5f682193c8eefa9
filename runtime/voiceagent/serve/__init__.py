"""``voiceagent serve``: one process answering phone (Twilio, Exotel) and browser calls.

Every agent of a folder is served under its name; the contract is docs/serve.md. The modules:

* :mod:`.catalogue`: the agent files, validated on (re)load, last good version kept;
* :mod:`.calls`: the calls in progress, capacity and drain;
* :mod:`.metrics`: Prometheus metrics;
* :mod:`.runner`: one call from admission to its event log's last line;
* :mod:`.twilio_web`: the Twilio webhook (TwiML, signature) and REST (transfer, hang-up);
* :mod:`.app`: the Starlette routes; :mod:`.server`: uvicorn with drain on SIGTERM.
"""
