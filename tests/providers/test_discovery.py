"""Check for new models against each fake's model list: a model added, one removed (offered
here, gone there), one retired (its shutdown known here); providers without a list say so."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from lib.providers import discovery
from lib.providers.a1111 import A1111Provider
from lib.providers.bfl import BFLProvider
from lib.providers.gemini import GeminiProvider
from lib.providers.openai_images import OpenAIImagesProvider
from lib.providers.stability import StabilityProvider
from tests.fakes import gemini as g
from tests.fakes import openai as o
from tests.fakes.a1111 import FakeA1111

TODAY = date(2026, 12, 7)


@pytest.fixture
def gemini() -> Iterator[g.FakeGemini]:
    fake = g.FakeGemini()
    yield fake
    fake.close()


@pytest.fixture
def openai() -> Iterator[o.FakeOpenAI]:
    fake = o.FakeOpenAI()
    yield fake
    fake.close()


def test_gemini_a_new_model_a_vanished_one_and_the_retired_ones(gemini: g.FakeGemini) -> None:
    gemini.also_listed = ("gemini-nano-banana-2.1-image",)  # Google adds a model
    gemini.live = {"gemini-3-pro-image": ("1K",)}  # and stops listing 3.1 Flash Image
    found = discovery.check(GeminiProvider(base_url=gemini.url, api_key=g.KEY), TODAY)
    assert found.listed == ("gemini-3-pro-image", "gemini-nano-banana-2.1-image")  # 2 pages,
    # text models left out
    assert found.new == ("gemini-nano-banana-2.1-image",)
    assert found.gone == ("gemini-3.1-flash-image",)
    assert {(r.model, r.listed) for r in found.retired} == {
        ("gemini-2.5-flash-image", False), ("gemini-3-pro-image-preview", False),
        ("gemini-3.1-flash-image-preview", False)}
    assert "probably shut down" in found.summary()
    assert [r.headers.get("x-goog-api-key") for r in gemini.server.history] == [g.KEY] * 2


def test_openai_nothing_new_and_a_retired_model_still_listed(openai: o.FakeOpenAI) -> None:
    found = discovery.check(OpenAIImagesProvider(base_url=openai.url, api_key=o.KEY), TODAY)
    assert set(found.listed or ()) == {"gpt-image-2", "gpt-image-1.5", "gpt-image-1-mini"}
    assert (found.new, found.gone) == ((), ())
    still = {r.model for r in found.retired if r.listed}
    assert still == {"gpt-image-1.5", "gpt-image-1-mini"}  # past their date, still answered
    assert "Nothing new, nothing gone." in found.summary()
    openai.also_listed = ("gpt-image-2.5",)
    again = discovery.check(OpenAIImagesProvider(base_url=openai.url, api_key=o.KEY), TODAY)
    assert again.new == ("gpt-image-2.5",)


def test_a_local_server_lists_its_checkpoints_and_any_is_taken_by_name() -> None:
    fake = FakeA1111()
    try:
        found = discovery.check(A1111Provider(base_url=fake.url, timeout=5), TODAY)
    finally:
        fake.close()
    assert found.listed == tuple(fake.checkpoints) and (found.new, found.gone) == ((), ())


@pytest.mark.parametrize("provider", [StabilityProvider(api_key="k"), BFLProvider(api_key="k")],
                         ids=["stability", "bfl"])
def test_providers_without_a_list_say_so(provider: StabilityProvider | BFLProvider) -> None:
    found = discovery.check(provider, TODAY)
    assert found.listed is None and "has no model list" in found.summary()
