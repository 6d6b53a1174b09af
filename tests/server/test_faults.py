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
    assert {name for name in forward.values() if name} == {"drop", "garbage", "nullalign", "truncate", "busy"}


def test_a_text_generated_again_rolls_again():
    plan = parse_faults("drop=0.5,seed=1")
    rolls = [plan.at_request("The same text.") for _ in range(40)]
    assert "drop" in rolls and None in rolls


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
    assert {plan.at_request(t) for t in TEXTS} == {None} and plan.charge(10**9) is None


@pytest.mark.parametrize("spec", [
    "drop=2", "explode=0.1", "drop", "seed=x", "drop=0.6,stall=0.6", "quota=-1", "quota=1.5",
])
def test_bad_specs_say_what_is_allowed(spec):
    with pytest.raises(ConfigError, match="--faults"):
        parse_faults(spec)
