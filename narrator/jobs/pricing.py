"""What a narration costs: the characters a service bills, and their price.

Pure: nothing here talks to a service; the only I/O is reading a price file
the user names.

The prices below are the services' list prices at the time of writing
(2025), in US dollars per 1,000 billed characters. They change, plans differ
by account and currency, and ElevenLabs' overage and annual rates are not
modelled: users override them with a price file (see `load_prices`).

- ElevenLabs: the self-serve plans' monthly price divided by the credits
  they include (starter $5 for 30k, creator $22 for 100k, pro $99 for 500k,
  scale $330 for 2M, business $1,320 for 11M). One credit buys one
  character, except on the Flash and Turbo models, where it buys two.
  Default plan: creator.
- Sarvam: Bulbul at about ₹15 per 10,000 characters, about $0.018 per
  1,000; one plan, pay-as-you-go.
- local (the embedded engine): free.

Price file (TOML). Every table and key is optional; what it names is merged
over the defaults above, plan by plan:

    [plans.elevenlabs]      # provider -> plan name = dollars per 1,000 billed characters
    creator = 0.30          # replaces a default plan's price
    myplan = 0.12           # adds a plan

    [plans.sarvam]
    pay-as-you-go = 0.02

    [default]               # provider -> the plan used when none is asked for
    elevenlabs = "myplan"

`load_prices` returns the same shape, defaults included:
{"plans": {provider: {plan: price}}, "default": {provider: plan}}.
"""

from __future__ import annotations

import math
from pathlib import Path

from narrator.errors import ConfigError
from narrator.problems import is_number, read_toml

PROVIDERS = ("elevenlabs", "sarvam", "local")
# Models billed at half a credit per character (model ids start with these).
HALF_PRICE_MODELS = ("eleven_flash", "eleven_turbo")

# ElevenLabs' self-serve plans: (US dollars a month, credits included).
ELEVENLABS_PLANS = {
    "starter": (5, 30_000),
    "creator": (22, 100_000),
    "pro": (99, 500_000),
    "scale": (330, 2_000_000),
    "business": (1320, 11_000_000),
}

PLANS: dict[str, dict[str, float]] = {
    "elevenlabs": {name: dollars * 1000 / credits for name, (dollars, credits) in ELEVENLABS_PLANS.items()},
    "sarvam": {"pay-as-you-go": 0.018},
    "local": {"free": 0.0},
}
DEFAULT_PLANS: dict[str, str] = {"elevenlabs": "creator", "sarvam": "pay-as-you-go", "local": "free"}

_TABLES = ("plans", "default")
_PRICE_ALLOWED = "give a non-negative number of US dollars per 1,000 billed characters"


def billed_characters(provider: str, model: str | None, characters: int) -> int:
    """The characters (ElevenLabs: credits) a service bills for `characters` of text."""
    _check_provider(provider)
    if provider == "local":
        return 0
    if provider == "elevenlabs" and model and model.startswith(HALF_PRICE_MODELS):
        # Half a credit per character, and a service never bills half a credit.
        return math.ceil(characters / 2)
    return characters


def default_prices() -> dict:
    """The list prices, in the shape `load_prices` returns (a fresh copy to change freely)."""
    return {"plans": {provider: dict(plans) for provider, plans in PLANS.items()},
            "default": dict(DEFAULT_PLANS)}


def load_prices(path: Path | None) -> dict:
    """The default prices with the price file at `path` merged over them;
    None means the defaults alone. A bad file is a ConfigError naming the
    file, the key and what is allowed."""
    prices = default_prices()
    if path is None:
        return prices
    data = read_toml(path, "the price file")
    for key in data:
        if key not in _TABLES:
            raise ConfigError(f"{path}: unknown key {key!r}; use the tables [plans.PROVIDER] and [default]")
    _merge_plans(path, data.get("plans", {}), prices["plans"])
    _merge_defaults(path, data.get("default", {}), prices)
    return prices


def estimate_price(provider: str, plan: str | None, billed: int, prices: dict) -> tuple[str, float]:
    """(the plan used, US dollars) for `billed` characters; plan None is the provider's default plan."""
    _check_provider(provider)
    plans = prices["plans"].get(provider, {})
    used = plan if plan is not None else prices["default"][provider]
    if used not in plans:
        raise ConfigError(f"unknown {provider} plan {used!r}; known plans: {', '.join(plans) or 'none'}")
    return used, billed * plans[used] / 1000


def _check_provider(provider: str) -> None:
    if provider not in PROVIDERS:
        raise ConfigError(f"unknown provider {provider!r}; choose one of {', '.join(PROVIDERS)}")


def _table(path: Path, key: str, value) -> dict:
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: {key} must be a table, e.g. [{key}]")
    return value


def _merge_plans(path: Path, plans, into: dict[str, dict[str, float]]) -> None:
    for provider, table in _table(path, "plans", plans).items():
        if provider not in PROVIDERS:
            raise ConfigError(f"{path}: plans.{provider} names an unknown provider; "
                              f"use one of {', '.join(PROVIDERS)}")
        for name, price in _table(path, f"plans.{provider}", table).items():
            # bool is an int to Python; nan and inf are valid TOML floats but no price.
            if not (is_number(price) and math.isfinite(price) and price >= 0):
                raise ConfigError(f"{path}: plans.{provider}.{name} = {price!r} is not a price; "
                                  f"{_PRICE_ALLOWED}")
            into[provider][name] = float(price)


def _merge_defaults(path: Path, defaults, prices: dict) -> None:
    # Judged after every plan is merged, so a default may name a plan the same file adds.
    for provider, name in _table(path, "default", defaults).items():
        if provider not in PROVIDERS:
            raise ConfigError(f"{path}: default.{provider} names an unknown provider; "
                              f"use one of {', '.join(PROVIDERS)}")
        known = prices["plans"][provider]
        if not isinstance(name, str) or name not in known:
            raise ConfigError(f"{path}: default.{provider} = {name!r} is not a known {provider} plan; "
                              f"use one of {', '.join(known)}")
        prices["default"][provider] = name
