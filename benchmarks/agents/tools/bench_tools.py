"""The benchmark agent's tool: answers after a fixed delay, like a slow backend.

The delay is ``$BENCH_TOOL_DELAY_MS`` milliseconds (default 500), read at each call so the
benchmark scripts can set it from their command line.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any


async def get_account_info(account_id: str) -> dict[str, Any]:
    """Sleep ``$BENCH_TOOL_DELAY_MS`` ms (asyncio, no thread), then return a fixed record."""
    await asyncio.sleep(float(os.environ.get("BENCH_TOOL_DELAY_MS", "500")) / 1000.0)
    return {"account_id": account_id, "name": "Priya Sharma", "plan": "Pro", "balance": 42.5}
