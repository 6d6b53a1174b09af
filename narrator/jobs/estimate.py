"""What narrating a book would send and cost, before anything is sent."""

from __future__ import annotations

from dataclasses import dataclass

from narrator.book.cache import SegmentCache
from narrator.book.plan import PlannedBook
from narrator.errors import NarratorError
from narrator.jobs import pricing
from narrator.jobs.subscription import fits, remaining_characters
from narrator.keys import api_key
from narrator.settings import KEY_NAMES, NarrateOptions


@dataclass(frozen=True)
class Estimate:
    name: str
    provider: str
    model: str | None
    segments: int
    characters: int  # in the book, spoken titles included
    cached: int  # of those, in segments the cache already holds
    billed: int  # what the provider would bill for the rest
    plan: str
    usd: float

    @property
    def to_send(self) -> int:
        return self.characters - self.cached

    def line(self) -> str:
        model = f" {self.model}" if self.model else ""
        return (f"{self.name}: {self.segments} segments, {self.characters:,} characters; "
                f"{self.cached:,} in the cache, {self.to_send:,} to send; "
                f"billed {self.billed:,} ({self.provider}{model}); "
                f"about ${self.usd:.2f} on the {self.plan} plan")


def estimate(name: str, planned: PlannedBook, options: NarrateOptions, cache: SegmentCache,
             plan: str | None, prices: dict) -> Estimate:
    cached = planned.characters - planned.characters_of(planned.unfinished(cache))
    model = options.service_settings().model
    billed = pricing.billed_characters(options.provider, model, planned.characters - cached)
    plan_used, usd = pricing.estimate_price(options.provider, plan, billed, prices)
    return Estimate(name, options.provider, model, len(planned.segments), planned.characters, cached, billed,
                    plan_used, usd)


def quota_warning(options: NarrateOptions, billed: int) -> str | None:
    """ElevenLabs: a line when `billed` characters will not fit the subscription's
    remaining quota, or when the check itself fails; None when they fit.
    A warning, never a stop: a quota can be topped up while a job runs."""
    if options.provider != "elevenlabs":
        return "the quota check applies to provider elevenlabs only"
    try:
        remaining = remaining_characters(options.service_endpoint(), api_key(KEY_NAMES["elevenlabs"]) or "")
    except NarratorError as error:
        return f"could not check the remaining quota: {error}"
    return fits(remaining, billed)
