"""Cost of the proxy's blocking decision, in µs per request (target: at most 5 µs).

A synthetic tracker list the size of DuckDuckGo's published TDS (a few
thousand tracker domains, each with a handful of URL rules, entities, CNAME
aliases), a learned-tracker set and a declarations cache; a request mix of
mostly ordinary hosts and some trackers (subdomains, CNAME-cloaked ones, same
entity, unknown site), as a page load has. Timed in one process on one core:

* ``tracking_verdict``: the blocking decision (host-suffix prefilter, party
  check, the one matched tracker's rules, learned trackers, declarations);
* ``decide_request``: the whole per-request decision (signals, exceptions,
  blocking, parameters, referrer), for context.

Each figure is the median of several repeats, in CPU time of the measuring
thread (the machine is shared; wall-clock time would count other processes). Usage:
``python bench/proxy_decision.py [--quick] [--trackers N]``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable

from trackpref.agent.decision import Knowledge, decide_request, tracking_verdict
from trackpref.agent.declarations import Declaration, DeclarationCache
from trackpref.agent.learning import TrackerLearner
from trackpref.agent.preference_file import UserPreference
from trackpref.agent.request import RequestInfo
from trackpref.agent.tds import load_tds
from trackpref.signals.preference import PreferenceState

TLDS = ["com", "net", "org", "io", "co.uk", "de", "fr"]
WORDS = [
    "ad",
    "track",
    "pixel",
    "metric",
    "stat",
    "tag",
    "beacon",
    "cdn",
    "sync",
    "bid",
    "rtb",
    "click",
    "media",
    "data",
    "cloud",
]


def synthetic_tds(n: int, rng: random.Random) -> dict[str, object]:
    trackers: dict[str, object] = {}
    entities: dict[str, object] = {}
    cnames: dict[str, str] = {}
    for i in range(n):
        domain = f"{rng.choice(WORDS)}{i}.{rng.choice(TLDS)}"
        esc = domain.replace(".", "\\.")
        rules = [
            {"rule": f"{esc}/(js|lib)/[a-z]+\\.js", "action": "ignore"},
            {"rule": f"{esc}/pixel", "options": {"types": ["image"]}},
            {"rule": f"{esc}/collect", "exceptions": {"domains": [f"site{i % 50}.com"]}},
            {"rule": f"{esc}/ads/", "surrogate": "ads.js"},
        ][: rng.randint(0, 4)]
        trackers[domain] = {
            "domain": domain,
            "owner": {"name": f"Owner {i // 3}"},
            "default": rng.choice(["block", "block", "ignore"]),
            "rules": rules,
        }
        entities.setdefault(f"Owner {i // 3}", {"domains": []})["domains"].append(domain)  # type: ignore[index]
        if i % 20 == 0:
            cnames[f"metrics.site{i}.com"] = f"c.{domain}"
    return {"trackers": trackers, "entities": entities, "cnames": cnames, "domains": {}}


def requests(tds_doc: dict[str, object], count: int, rng: random.Random) -> list[RequestInfo]:
    trackers = list(tds_doc["trackers"])  # type: ignore[call-overload]
    cnames = list(tds_doc["cnames"])  # type: ignore[call-overload]
    sites = [f"www.site{i}.com" for i in range(200)]
    out: list[RequestInfo] = []
    for _ in range(count):
        site: str | None = rng.choice(sites)
        roll = rng.random()
        if roll < 0.70:  # ordinary first- and third-party hosts
            host = rng.choice(
                [
                    site,
                    f"static.cdn{rng.randint(0, 5000)}.net",
                    f"img.site{rng.randint(0, 200)}.com",
                ]
            )
            path = "/assets/app.js"
        elif roll < 0.90:  # listed trackers and their subdomains
            host = rng.choice(["", "www.", "px.", "a.b."]) + rng.choice(trackers)
            path = rng.choice(["/pixel?id=1", "/js/core.js", "/collect?v=2", "/ads/x", "/other"])
        elif roll < 0.95:  # CNAME-cloaked
            host, path = rng.choice(cnames), "/t.gif"
        else:  # learned trackers, and unknown sites
            host, path = f"spy{rng.randint(0, 99)}.example", "/c"
            if rng.random() < 0.5:
                site = None
        assert host is not None
        out.append(
            RequestInfo(
                "GET",
                "https",
                host,
                443,
                path,
                site,
                rng.choice(["script", "image", "xmlhttprequest"]),
            )
        )
    return out


def per_call_us(
    fn: Callable[[RequestInfo], object], reqs: list[RequestInfo], repeats: int
) -> float:
    for r in reqs[:2000]:  # warm the memo caches, as a running proxy is
        fn(r)
    samples = []
    for _ in range(repeats):
        # CPU time of this thread: the machine is shared, and wall-clock time
        # would charge other processes' work to the decision.
        start = time.thread_time_ns()
        for r in reqs:
            fn(r)
        samples.append((time.thread_time_ns() - start) / len(reqs) / 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests and repeats")
    parser.add_argument("--trackers", type=int, default=4000, help="tracker domains in the list")
    args = parser.parse_args()
    rng = random.Random(6)
    doc = synthetic_tds(args.trackers, rng)
    t0 = time.perf_counter()
    tds = load_tds(doc)
    build_ms = (time.perf_counter() - t0) * 1000
    learner = TrackerLearner()
    for i in range(100):
        for s in ("a.example", "b.example", "c.example"):
            learner.observe(f"spy{i}.example", s)
    cache = DeclarationCache()
    for i in range(0, args.trackers, 7):
        cache.put(Declaration(f"https://{list(doc['trackers'])[i]}", i % 2 == 0, None, time.time()))  # type: ignore[call-overload]
    knowledge = Knowledge(trackers=tds, learner=learner, declarations=cache)
    pref = UserPreference(PreferenceState.DO_NOT_TRACK).allow(
        "www.site1.com", ["px.ad1.com"], now=time.time()
    )
    reqs = requests(doc, 20_000 if args.quick else 100_000, rng)
    repeats = 3 if args.quick else 7
    now = time.time()

    verdict_us = per_call_us(lambda r: tracking_verdict(r, knowledge, now), reqs, repeats)
    decide_us = per_call_us(lambda r: decide_request(r, pref, knowledge, now), reqs, repeats)
    blocked = sum(tracking_verdict(r, knowledge, now).block for r in reqs)
    listed = [r for r in reqs if tds.match(r.scheme, r.host, r.path, r.site, r.resource_type)]
    others = [r for r in reqs if not tds.match(r.scheme, r.host, r.path, r.site, r.resource_type)]
    listed_us = per_call_us(lambda r: tracking_verdict(r, knowledge, now), listed, repeats)
    others_us = per_call_us(lambda r: tracking_verdict(r, knowledge, now), others, repeats)

    print(f"tracker list: {len(tds)} domains, built in {build_ms:.0f} ms")
    print(f"requests: {len(reqs)} ({blocked / len(reqs):.0%} blocked), median of {repeats} repeats")
    print(f"blocking decision (tracking_verdict): {verdict_us:.2f} µs per request (target ≤ 5 µs)")
    print(f"  of which listed trackers ({len(listed)}): {listed_us:.2f} µs (rules evaluated)")
    print(f"  of which other hosts ({len(others)}):     {others_us:.2f} µs (prefilter only)")
    print(f"whole decision (decide_request):      {decide_us:.2f} µs per request")
    print("PASS" if verdict_us <= 5.0 else "FAIL: the blocking decision is over 5 µs")


if __name__ == "__main__":
    main()
