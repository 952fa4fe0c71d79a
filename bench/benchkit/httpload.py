#!/usr/bin/env python3
"""HTTP client for the density runs; runs inside the bench's network namespace
(``nsenter --net=… python httpload.py``), standard library only.

Reads one JSON request on stdin and prints one JSON answer:

* ``{"mode": "ready", "targets": [...], "timeout": S, "concurrency": C}`` → for each
  target, seconds until it first answered ``GET /`` with 200 (null: never, within S);
* ``{"mode": "load", "targets": [...], "rounds": R, "concurrency": C, "timeout": S,
  "limit": L, "seed": X}`` → each round asks every target once, in a shuffled order, C
  requests in flight; ``latencies`` of the answered requests, ``errors`` (no 200 within S
  seconds), ``unsent`` (dropped when the run passed L seconds).
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time

PORT = 80


async def get(host: str, timeout: float) -> float | None:
    """Seconds for one ``GET /`` (connect to the end of the body), None on failure."""
    t = time.perf_counter()

    async def once() -> bool:
        reader, writer = await asyncio.open_connection(host, PORT)
        try:
            writer.write(f"GET / HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
            data = await reader.read()
        finally:
            writer.close()
        return data[:9] in (b"HTTP/1.0 ", b"HTTP/1.1 ") and data[9:12] == b"200"

    try:
        ok = await asyncio.wait_for(once(), timeout)
    except (OSError, ValueError):
        return None
    return time.perf_counter() - t if ok else None


async def ready(targets: list[str], timeout: float, concurrency: int) -> list[float | None]:
    start = time.perf_counter()
    deadline = start + timeout
    sem = asyncio.Semaphore(concurrency)

    async def one(host: str) -> float | None:
        while time.perf_counter() < deadline:
            async with sem:
                got = await get(host, min(5.0, max(0.1, deadline - time.perf_counter())))
            if got is not None:
                return time.perf_counter() - start
            await asyncio.sleep(0.05)
        return None

    return list(await asyncio.gather(*(one(h) for h in targets)))


async def load(targets: list[str], rounds: int, concurrency: int, timeout: float,
               limit: float, seed: int) -> dict[str, object]:
    rng = random.Random(seed)
    queue: list[str] = []
    for _ in range(rounds):
        order = list(targets)
        rng.shuffle(order)
        queue.extend(order)
    queue.reverse()
    latencies: list[float] = []
    errors = 0
    start = time.perf_counter()

    async def worker() -> None:
        nonlocal errors
        while queue and time.perf_counter() - start < limit:
            got = await get(queue.pop(), timeout)
            if got is None:
                errors += 1
            else:
                latencies.append(got)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return {"latencies": latencies, "errors": errors, "unsent": len(queue),
            "wall": time.perf_counter() - start}


def main() -> int:
    req = json.load(sys.stdin)
    if req["mode"] == "ready":
        out: object = asyncio.run(ready(req["targets"], req["timeout"], req["concurrency"]))
    else:
        out = asyncio.run(load(req["targets"], req["rounds"], req["concurrency"],
                               req["timeout"], req["limit"], req.get("seed", 1)))
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
