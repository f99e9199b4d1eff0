from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from trackpref.agent.domains import DomainMap, DomainSet, canonical_host, host_site, suffixes


def test_suffixes_stop_before_the_bare_tld_unless_asked() -> None:
    assert list(suffixes("a.b.example.com")) == ["a.b.example.com", "b.example.com", "example.com"]
    assert list(suffixes("a.b.example.com", bare_tld=True))[-1] == "com"
    assert list(suffixes("localhost")) == ["localhost"]


def test_the_most_specific_domain_wins() -> None:
    m = DomainMap({"example.com": "broad", "ads.example.com": "narrow"})
    assert m.find("x.ads.example.com") == ("ads.example.com", "narrow")
    assert m.find("www.example.com") == ("example.com", "broad")
    assert m.find("example.org") is None
    assert m.get("com") is None
    assert DomainMap({"com": 1}).get("example.com") is None
    assert DomainMap({"com": 1}, bare_tld=True).get("example.com") == 1


def test_domain_set_helpers() -> None:
    s = DomainSet(["keep.example"])
    assert s.covers("a.keep.example")
    assert not s.covers(None)
    assert s.any_of(None, "zz.example", "keep.example")
    assert "x.keep.example" in s
    assert list(s) == ["keep.example"]


def test_canonical_host_and_site_are_the_core_rules_memoized() -> None:
    assert canonical_host("WWW.Example.COM.") == "www.example.com"
    assert canonical_host("not a host") is None
    assert host_site("www.example.co.uk") == "example.co.uk"


labels = st.sampled_from(["a", "b", "ex", "com", "net"])
hosts = st.lists(labels, min_size=1, max_size=4).map(".".join)


@given(st.lists(hosts, max_size=6), hosts)
def test_property_covers_is_a_cookie_domain_match(domains: list[str], host: str) -> None:
    s = DomainSet(domains)
    brute = any((host == d or host.endswith("." + d)) and ("." in d or host == d) for d in domains)
    assert s.covers(host) is brute
