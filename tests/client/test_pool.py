"""The pool's sessions over time: kept alive when idle, replaced when closed."""

from __future__ import annotations

import asyncio

from narrator.client.pool import PoolConfig, SessionPool
from narrator.model import Segment
from narrator.protocol import elevenlabs as codec
from narrator.server.app import EmbeddedServer
from tests.helpers import run

SEGMENTS = [Segment(i, 0, (f"Segment number {i} is short, and it ends here.",), True) for i in range(4)]


async def run_pool(on_done, inactivity_timeout=20, concurrency=1):
    async with EmbeddedServer() as server:
        settings = codec.StreamSettings(output_format="mp3_22050_32", inactivity_timeout=inactivity_timeout)
        pool = SessionPool(PoolConfig(codec.dialect(server.url, settings, None), concurrency,
                                      stall_timeout=5))
        done = []

        async def record(segment, chunks):
            done.append(segment.index)
            await on_done(server, segment)

        await pool.run(SEGMENTS, record)
    return pool.stats, server.stats, done


def test_an_idle_session_is_kept_alive_past_the_inactivity_timeout():
    async def slow(server, segment):
        await asyncio.sleep(2.5)  # longer than the 2 s the server allows without input

    stats, served, done = run(run_pool(slow, inactivity_timeout=2))
    assert sorted(done) == [0, 1, 2, 3]
    assert stats.connections == 1 and served.connections == 1 and stats.retries == 0


def test_a_session_the_server_closed_is_replaced_without_a_retry():
    async def close_all(server, segment):
        if segment.index == 1:
            for connection in list(server._server.connections):
                await connection.close(1001, "going away")

    stats, served, done = run(run_pool(close_all))
    assert sorted(done) == [0, 1, 2, 3]
    assert stats.connections == 2 and stats.retries == 0
