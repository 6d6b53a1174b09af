"""What a narration costs: billed characters, the list prices, a user's price file."""

from __future__ import annotations

import pytest

from narrator.errors import ConfigError
from narrator.jobs.pricing import DEFAULT_PLANS, PLANS, billed_characters, estimate_price, load_prices


@pytest.mark.parametrize("model, characters, billed", [
    ("eleven_multilingual_v2", 1001, 1001),
    (None, 1001, 1001),  # the service's default model is billed in full
    ("eleven_flash_v2_5", 1000, 500),
    ("eleven_flash_v2_5", 1001, 501),  # half a credit is billed as a whole one
    ("eleven_turbo_v2_5", 3, 2),
    ("eleven_turbo_v2", 1, 1),
    ("eleven_flash_v2", 0, 0),
])
def test_elevenlabs_bills_flash_and_turbo_at_half_a_credit_rounded_up(model, characters, billed):
    assert billed_characters("elevenlabs", model, characters) == billed


def test_sarvam_bills_characters_and_local_bills_nothing():
    assert billed_characters("sarvam", "bulbul:v2", 1234) == 1234
    assert billed_characters("sarvam", "eleven_flash_v2_5", 1234) == 1234  # halving is ElevenLabs' alone
    assert billed_characters("local", None, 1234) == 0


def test_an_unknown_provider_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown provider 'acme'; choose one of elevenlabs, sarvam, local"):
        billed_characters("acme", None, 10)


def test_default_prices_are_the_list_prices():
    assert PLANS["elevenlabs"]["creator"] == pytest.approx(0.22)
    assert PLANS["elevenlabs"]["starter"] == pytest.approx(5 / 30)
    assert PLANS["elevenlabs"]["business"] == pytest.approx(0.12)
    assert PLANS["sarvam"] == {"pay-as-you-go": 0.018}
    assert DEFAULT_PLANS == {"elevenlabs": "creator", "sarvam": "pay-as-you-go", "local": "free"}
    prices = load_prices(None)
    assert estimate_price("elevenlabs", None, 100_000, prices) == ("creator", pytest.approx(22.0))
    assert estimate_price("elevenlabs", "pro", 500_000, prices) == ("pro", pytest.approx(99.0))
    assert estimate_price("sarvam", None, 10_000, prices) == ("pay-as-you-go", pytest.approx(0.18))
    assert estimate_price("local", None, 0, prices) == ("free", 0.0)


def test_loading_defaults_never_changes_them():
    load_prices(None)["plans"]["elevenlabs"]["creator"] = 99.0
    assert load_prices(None)["plans"]["elevenlabs"]["creator"] == pytest.approx(0.22)


def test_a_price_file_overrides_adds_plans_and_sets_the_default(tmp_path):
    path = tmp_path / "prices.toml"
    path.write_text('[plans.elevenlabs]\ncreator = 0.30\nmyplan = 0.12\n\n'
                    '[plans.sarvam]\npay-as-you-go = 0\n\n'
                    '[default]\nelevenlabs = "myplan"\n', encoding="utf-8")
    prices = load_prices(path)
    assert prices["plans"]["elevenlabs"]["creator"] == 0.30
    assert prices["plans"]["elevenlabs"]["pro"] == pytest.approx(0.198)  # the rest is kept
    assert estimate_price("elevenlabs", None, 10_000, prices) == ("myplan", pytest.approx(1.2))
    assert estimate_price("elevenlabs", "creator", 10_000, prices) == ("creator", pytest.approx(3.0))
    assert estimate_price("sarvam", None, 10_000, prices) == ("pay-as-you-go", 0.0)


def test_an_empty_price_file_is_the_defaults(tmp_path):
    path = tmp_path / "prices.toml"
    path.write_text("", encoding="utf-8")
    assert load_prices(path) == load_prices(None)


def test_an_unknown_plan_lists_the_known_ones():
    with pytest.raises(ConfigError) as caught:
        estimate_price("elevenlabs", "gold", 1000, load_prices(None))
    assert str(caught.value) == ("unknown elevenlabs plan 'gold'; known plans: "
                                 "starter, creator, pro, scale, business")


@pytest.mark.parametrize("content, key, allowed", [
    ('[plans.acme]\nbasic = 0.1\n', "plans.acme", "use one of elevenlabs, sarvam, local"),
    ('[plans.elevenlabs]\ncreator = -0.1\n', "plans.elevenlabs.creator", "non-negative number of US dollars"),
    ('[plans.elevenlabs]\ncreator = "cheap"\n', "plans.elevenlabs.creator",
     "non-negative number of US dollars"),
    ('[plans.elevenlabs]\ncreator = true\n', "plans.elevenlabs.creator", "non-negative number of US dollars"),
    ('[plans.elevenlabs]\ncreator = nan\n', "plans.elevenlabs.creator", "non-negative number of US dollars"),
    ('[plans.elevenlabs]\ncreator = inf\n', "plans.elevenlabs.creator", "non-negative number of US dollars"),
    ('[plans]\nelevenlabs = 0.2\n', "plans.elevenlabs", "must be a table"),
    ('plans = 3\n', "plans", "must be a table"),
    ('[default]\nelevenlabs = "gold"\n', "default.elevenlabs",
     "use one of starter, creator, pro, scale, business"),
    ('[default]\nelevenlabs = 2\n', "default.elevenlabs", "use one of starter, creator"),
    ('[default]\nacme = "basic"\n', "default.acme", "use one of elevenlabs, sarvam, local"),
    ('[prices.elevenlabs]\ncreator = 0.2\n', "prices", "use the tables [plans.PROVIDER] and [default]"),
    ('[plans.elevenlabs\ncreator = 0.2\n', "line 1", "not valid TOML"),
    ('[plans.elevenlabs]\ncreator = \n', "line 2", "not valid TOML"),
])
def test_a_bad_price_file_names_the_file_the_key_and_what_is_allowed(tmp_path, content, key, allowed):
    path = tmp_path / "my-prices.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_prices(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    assert key in message and allowed in message
    assert caught.value.exit_code == 3


def test_a_default_may_name_a_plan_the_same_file_adds(tmp_path):
    path = tmp_path / "prices.toml"
    # [default] first: plans are merged before defaults are judged, whatever the order in the file.
    path.write_text('[default]\nsarvam = "annual"\n\n[plans.sarvam]\nannual = 0.015\n', encoding="utf-8")
    assert estimate_price("sarvam", None, 1000, load_prices(path)) == ("annual", pytest.approx(0.015))


def test_a_missing_or_undecodable_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError,
                       match=r"absent\.toml: cannot read the price file \(No such file or directory\)"):
        load_prices(tmp_path / "absent.toml")
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'[plans.elevenlabs]\n"caf\xe9" = 0.1\n')
    with pytest.raises(ConfigError, match=r"latin1\.toml: not valid TOML"):
        load_prices(path)
