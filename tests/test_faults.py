import pytest

from narrator.errors import ConfigError
from narrator.server.faults import parse_faults


def test_spec_is_parsed_and_reproducible():
    a = parse_faults("drop=0.2,garbage=0.2,http429=0.5,seed=3")
    b = parse_faults("drop=0.2,garbage=0.2,http429=0.5,seed=3")
    assert [a.at_generation() for _ in range(50)] == [b.at_generation() for _ in range(50)]
    assert a.injected["drop"] > 0 and a.injected["garbage"] > 0


def test_no_spec_never_misbehaves():
    plan = parse_faults(None)
    assert {plan.at_generation() for _ in range(100)} == {None}


@pytest.mark.parametrize("spec", ["drop=2", "explode=0.1", "drop", "seed=x", "drop=0.6,stall=0.6"])
def test_bad_specs_say_what_is_allowed(spec):
    with pytest.raises(ConfigError, match="--faults"):
        parse_faults(spec)
