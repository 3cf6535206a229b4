"""The sans-IO chat filters: link domains, permits, exemptions, and no crash on any text."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from actors.triggers.filters import ChatFilters, link_domains
from config.models import FilterConfig
from tests.unit.actors.triggers.conftest import make_event

LINKS = FilterConfig(id="links", kind="links", allow=("twitch.tv",), permit_seconds=30)
ALL = (
    LINKS,
    FilterConfig(id="caps", kind="caps"),
    FilterConfig(id="symbols", kind="symbols"),
    FilterConfig(id="rep", kind="repetition"),
    FilterConfig(id="len", kind="length"),
    FilterConfig(id="words", kind="words", words=("spoiler",), regexes=(r"fr[e3]{2}",)),
)


def test_link_domains_finds_a_scheme_link_without_a_dot_and_nothing_in_plain_words():
    assert link_domains("see http://localhost:8080/x now") == ["localhost"]
    assert link_domains("no links here at all, just words") == []


def test_link_domains_finds_schemes_www_and_bare_names_but_not_words_or_emails():
    text = "see https://Clips.Twitch.tv/x www.example.org and spam.xyz, not me@mail.com or 3.14"
    assert link_domains(text) == ["clips.twitch.tv", "example.org", "spam.xyz"]


def test_allowed_domains_include_subdomains_and_a_permit_ends():
    filters = ChatFilters((LINKS,))
    assert filters.check(make_event("https://clips.twitch.tv/abc"), now=0) is None
    hit = filters.check(make_event("go to nottwitch.tv now"), now=0)
    assert hit is not None and hit.reason == "link to nottwitch.tv"
    assert filters.permit("twitch", "Viewer", now=100) == 30
    assert filters.check(make_event("bit.ly/x"), now=129) is None
    assert filters.check(make_event("bit.ly/x"), now=131) is not None


def test_exempt_roles_are_never_filtered():
    filters = ChatFilters((LINKS,))
    assert filters.check(make_event("spam.xyz", roles=frozenset({"moderator"})), now=0) is None
    assert filters.check(make_event("spam.xyz", roles=frozenset({"vip"})), now=0) is not None


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=600))
def test_no_text_makes_a_filter_raise(text):
    filters = ChatFilters(ALL)
    filters.check(make_event(text), now=0.0)


def test_the_caps_filter_counts_capital_letters_among_letters_only():
    caps = ChatFilters((FilterConfig(id="caps", kind="caps", ratio=0.8, min_length=12),))
    shouted = caps.check(make_event("STOP THAT NOW please!!"), now=0)
    assert shouted is None  # 11 of 17 letters
    hit = caps.check(make_event("STOP THAT NOW!! 123 ok"), now=0)
    assert hit is not None and hit.reason == "too many capitals"  # 11 of 13 letters
    # Upper-case symbols that are not letters (roman numerals) do not count either way.
    assert caps.check(make_event("hello there Ⅷ Ⅷ Ⅷ Ⅷ Ⅷ"), now=0) is None
