import pytest

from narrator.errors import ConfigError
from narrator.server.faults import parse_faults

TEXTS = [f"Sentence number {i} of the book." for i in range(200)]


def test_faults_depend_on_the_text_not_on_the_order_it_arrives_in():
    spec = "drop=0.1,garbage=0.1,nullalign=0.2,truncate=0.1,busy=0.05,seed=3"
    a, b = parse_faults(spec), parse_faults(spec)
    forward = {t: a.at_request(t) for t in TEXTS}
    backward = {t: b.at_request(t) for t in reversed(TEXTS)}
    assert forward == backward
    assert set().union(*forward.values()) == {"drop", "garbage", "nullalign", "truncate", "busy"}
    assert all(len(faults) <= 1 for faults in forward.values())


def test_a_text_generated_again_rolls_again():
    plan = parse_faults("drop=0.5,seed=1")
    rolls = [plan.at_request("The same text.") for _ in range(40)]
    assert {"drop"} in rolls and set() in rolls


def test_another_seed_gives_other_faults():
    a, b = parse_faults("drop=0.3,seed=1"), parse_faults("drop=0.3,seed=2")
    assert [a.at_request(t) for t in TEXTS] != [b.at_request(t) for t in TEXTS]


def test_quota_counts_characters_until_they_run_out():
    plan = parse_faults("quota=100")
    assert plan.charge(60) is None and plan.charge(40) is None
    assert plan.charge(1) == 0 and plan.injected["quota"] == 1
    assert parse_faults("quota=10").charge(11) == 10


def test_no_spec_never_misbehaves():
    plan = parse_faults(None)
    assert {plan.at_request(t) for t in TEXTS} == {frozenset()} and plan.charge(10**9) is None
    assert plan.split == 1 and not plan.at_connection("coalesce")


def test_skipchars_is_rolled_on_its_own_and_combines_with_the_other_faults():
    plan = parse_faults("skipchars=0.5,drop=0.3,seed=4")
    rolls = [plan.at_request(t) for t in TEXTS]
    assert {"skipchars", "drop"} in rolls and {"skipchars"} in rolls and {"drop"} in rolls
    # skipchars=1 strikes every request, and leaves the one roll as it was
    assert all("skipchars" in faults for faults in map(parse_faults("skipchars=1,drop=1").at_request, TEXTS))
    skipping = parse_faults("skipchars=1,drop=0.3,seed=4")
    with_skip = [f - {"skipchars"} for f in map(skipping.at_request, TEXTS)]
    assert with_skip == list(map(parse_faults("drop=0.3,seed=4").at_request, TEXTS))


def test_split_and_coalesce():
    plan = parse_faults("split=4,coalesce=1")
    assert plan.split == 4 and plan.at_connection("coalesce") and plan.injected["coalesce"] == 1
    assert not parse_faults("coalesce=0").at_connection("coalesce")


@pytest.mark.parametrize("spec", [
    "drop=2", "explode=0.1", "drop", "seed=x", "drop=0.6,stall=0.6", "quota=-1", "quota=1.5",
    "split=0", "split=x", "skipchars=1.5", "coalesce=-1",
])
def test_bad_specs_say_what_is_allowed(spec):
    with pytest.raises(ConfigError, match="--faults"):
        parse_faults(spec)
