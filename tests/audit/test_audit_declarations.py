from __future__ import annotations

import hashlib
import json

from trackpref.audit.declarations import (
    Fetched,
    Hop,
    OriginDeclarations,
    evaluate_dnt_policy,
    evaluate_gpc_json,
    evaluate_tsr,
)
from trackpref.audit.failures import Failure, FailureKind

TSR_TYPE = ("Content-Type", "application/tracking-status+json")
URL = "https://shop.example/.well-known/dnt/"


def fetched(
    body: bytes | str,
    *headers: tuple[str, str],
    status: int = 200,
    redirects: tuple[Hop, ...] = (),
    too_large: bool = False,
    limit: int = 0,
) -> Fetched:
    data = body.encode() if isinstance(body, str) else body
    return Fetched(URL, URL, status, tuple(headers), data, redirects, None, too_large, limit)


def test_absent_tsr_is_no_claim() -> None:
    decl = evaluate_tsr(fetched("not found", status=404))
    assert decl.present is False
    assert decl.valid is None


def test_valid_tsr() -> None:
    decl = evaluate_tsr(
        fetched(json.dumps({"tracking": "N", "same-party": ["cdn.example"]}), TSR_TYPE)
    )
    assert decl.valid is True
    assert (decl.tracking, decl.effective, decl.effective_with_dnt) == ("N", "N", "N")
    assert decl.same_party == ("cdn.example",)


def test_tsr_that_varies_with_dnt() -> None:
    plain = fetched('{"tracking": "T"}', TSR_TYPE, ("Vary", "DNT"))
    with_dnt = fetched('{"tracking": "N"}', TSR_TYPE, ("Vary", "DNT"))
    decl = evaluate_tsr(plain, with_dnt=with_dnt)
    assert decl.depends_on_dnt is True
    assert (decl.effective, decl.effective_with_dnt) == ("T", "N")
    assert decl.valid is True
    no_vary = evaluate_tsr(
        fetched('{"tracking": "T"}', TSR_TYPE), with_dnt=fetched('{"tracking": "N"}', TSR_TYPE)
    )
    assert no_vary.valid is False
    assert any("Vary" in p for p in no_vary.problems)


def test_tsr_setting_a_cookie_on_a_redirect_and_on_the_response() -> None:
    hop = Hop(
        "https://shop.example/.well-known/dnt", 301, (("Location", URL), ("Set-Cookie", "a=1"))
    )
    decl = evaluate_tsr(
        fetched('{"tracking": "N"}', TSR_TYPE, ("Set-Cookie", "b=2"), redirects=(hop,))
    )
    assert decl.valid is False
    assert decl.tracking == "N"
    assert sum("cookie" in p for p in decl.problems) == 2
    assert any(p.startswith("redirect https://shop.example/.well-known/dnt") for p in decl.problems)


def test_hostile_tsr_bodies() -> None:
    not_json = evaluate_tsr(fetched("<html>", TSR_TYPE))
    assert not_json.valid is False
    assert not_json.tracking is None
    wrong_type = evaluate_tsr(fetched('{"tracking": ["N"]}', TSR_TYPE))
    assert wrong_type.valid is False
    assert any("tracking" in p for p in wrong_type.problems)
    huge = evaluate_tsr(fetched(b"{" * 100, TSR_TYPE, too_large=True, limit=100))
    assert huge.present is True
    assert huge.valid is False
    assert "larger than 100 bytes" in huge.problems[0]


def test_failed_fetch_is_unknown_presence() -> None:
    failure = Failure(FailureKind.TIMEOUT, "timed out")
    decl = evaluate_tsr(Fetched(URL, URL, failure=failure))
    assert decl.present is None
    assert decl.failure == failure


def test_gpc_json_rules() -> None:
    json_type = ("Content-Type", "application/json")
    good = evaluate_gpc_json(fetched('{"gpc": true, "lastUpdate": "2025-04-15"}', json_type))
    assert (good.valid, good.gpc, good.last_update) == (True, True, "2025-04-15")
    wrong_media = evaluate_gpc_json(fetched('{"gpc": true}', ("Content-Type", "text/plain")))
    assert (wrong_media.valid, wrong_media.gpc) == (False, None)
    string_true = evaluate_gpc_json(fetched('{"gpc": "true"}', json_type))
    assert (string_true.valid, string_true.gpc) == (False, None)
    assert any('"true"' in p for p in string_true.problems)
    huge = evaluate_gpc_json(fetched(b" " * 10, json_type, too_large=True, limit=10))
    assert huge.valid is False
    assert evaluate_gpc_json(fetched("", status=404)).present is False


def test_dnt_policy() -> None:
    body = b"our policy\n"
    digest = hashlib.sha1(body, usedforsecurity=False).hexdigest()
    accepted = evaluate_dnt_policy(fetched(body), accepted={digest: "test"})
    assert (accepted.compliant, accepted.version) == (True, "test")
    # Served over https here: no note about plain HTTP.
    assert accepted.problems == ()
    other = evaluate_dnt_policy(fetched(b"modified policy"))
    assert other.compliant is False
    assert "not an accepted EFF policy" in other.problems[0]


def test_checklist_47_the_eff_policy_counts_per_host_over_https_only() -> None:
    body = b"our policy\n"
    accepted = {hashlib.sha1(body, usedforsecurity=False).hexdigest(): "test"}
    elsewhere = Fetched(URL, "https://policies.example/dnt-policy.txt", 200, (), body)
    plain = Fetched(URL, "http://shop.example/.well-known/dnt-policy.txt", 200, (), body)
    for case, needle in ((elsewhere, "another host"), (plain, "plain HTTP")):
        decl = evaluate_dnt_policy(case, accepted=accepted)
        assert decl.compliant is False
        assert any(needle in p for p in decl.problems)


def test_origin_declarations_collect_problems_and_failures() -> None:
    failure = Failure(FailureKind.TLS, "bad certificate")
    decls = OriginDeclarations(
        "https://shop.example",
        tsr=evaluate_tsr(fetched('{"tracking": 1}', TSR_TYPE)),
        gpc=evaluate_gpc_json(Fetched(URL, URL, failure=failure)),
        dnt_policy=evaluate_dnt_policy(fetched("", status=404)),
    )
    assert decls.any_present
    assert all(p.startswith("TSR ") for p in decls.problems())
    assert decls.failures() == [failure]
    assert not decls.unreadable
