"""Additive increase, multiplicative decrease of sessions at once."""

from narrator.client.aimd import Aimd


def test_a_rate_limit_halves_and_a_round_of_successes_adds_one_back():
    aimd = Aimd(8)
    assert aimd.on_rate_limit(now=0.0) and aimd.limit == 4
    for _ in range(3):
        aimd.on_success()
    assert aimd.limit == 4
    aimd.on_success()
    assert aimd.limit == 5
    for _ in range(100):
        aimd.on_success()
    assert aimd.limit == 8, "never above the ceiling the user gave"
    assert aimd.lowest == 4 and "settled at 8 of 8" in aimd.summary()


def test_signals_close_together_count_as_one():
    aimd = Aimd(8, cooldown=2.0)
    assert aimd.on_rate_limit(now=10.0)
    assert not aimd.on_rate_limit(now=10.5) and not aimd.on_rate_limit(now=11.9)
    assert aimd.limit == 4
    assert aimd.on_rate_limit(now=12.1) and aimd.limit == 2


def test_never_below_one_session():
    aimd = Aimd(3, cooldown=0.0)
    for t in range(10):
        aimd.on_rate_limit(now=float(t))
    assert aimd.limit == 1 and aimd.lowest == 1 and aimd.cuts == 10


def test_the_summary_says_nothing_changed_when_nothing_did():
    aimd = Aimd(4)
    aimd.on_success()
    assert aimd.summary() == "concurrency 4 throughout"
