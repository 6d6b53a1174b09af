"""The pool's sessions over time: a connection per segment on stream-input,
left to close and replaced when idle on multi-context, replaced when
closed; the longest segments go first."""

from __future__ import annotations

import asyncio

from narrator.client.pool import PoolConfig, SessionPool
from narrator.model import Segment
from narrator.protocol import elevenlabs as codec
from narrator.protocol.elevenlabs_dialect import dialect
from narrator.server.app import EmbeddedServer
from tests.helpers import run

SEGMENTS = [Segment(i, 0, (f"Segment number {i} is short, and it ends here.",), True) for i in range(4)]


async def run_pool(on_done, inactivity_timeout=20, concurrency=1, transport=codec.MULTI_CONTEXT,
                   segments=SEGMENTS):
    async with EmbeddedServer() as server:
        settings = codec.StreamSettings(output_format="mp3_22050_32", inactivity_timeout=inactivity_timeout)
        pool = SessionPool(PoolConfig(dialect(server.url, settings, None, transport), concurrency,
                                      stall_timeout=5))
        done = []

        async def record(segment, chunks):
            done.append(segment.index)
            await on_done(server, segment)

        await pool.run(segments, record)
    return pool.stats, server.stats, done


def test_on_stream_input_each_segment_has_a_connection_of_its_own():
    async def nothing(server, segment):
        pass

    stats, served, done = run(run_pool(nothing, transport=codec.STREAM_INPUT))
    assert sorted(done) == [0, 1, 2, 3]
    assert stats.connections == 4 and served.connections == 4 and stats.retries == 0


def test_an_idle_multi_context_connection_is_not_used_again_but_costs_no_retry():
    # Between segments no context is open, so nothing keeps the connection alive: a session
    # idle for half the inactivity timeout is replaced before the service closes it.
    async def slow(server, segment):
        await asyncio.sleep(1.2)

    stats, served, done = run(run_pool(slow, inactivity_timeout=2))
    assert sorted(done) == [0, 1, 2, 3]
    assert stats.connections >= 2 and served.connections == stats.connections and stats.retries == 0


def test_the_longest_segments_are_sent_first():
    segments = [Segment(i, 0, ("Word. " * n,), True) for i, n in enumerate((3, 9, 1, 5))]

    async def nothing(server, segment):
        pass

    _, _, done = run(run_pool(nothing, segments=segments))
    assert done == [1, 3, 0, 2]


def test_a_session_the_server_closed_is_replaced_without_a_retry():
    async def close_all(server, segment):
        if segment.index == 1:
            # Segment 1 is stored while segment 2 is made: once that is done, the session is idle.
            await asyncio.sleep(1.0)
            for connection in list(server._server.connections):
                await connection.close(1001, "going away")

    stats, served, done = run(run_pool(close_all))
    assert sorted(done) == [0, 1, 2, 3]
    assert stats.connections == 2 and stats.retries == 0
