from __future__ import annotations

import json

from trackpref.mail import MessageReport, Tracker, TrackerKind, summarise_senders, to_json


def _report(sender: str | None, *kinds: TrackerKind, service: str = "Mailchimp") -> MessageReport:
    trackers = tuple(
        Tracker(f"https://t.example/{i}", kind, "why", service) for i, kind in enumerate(kinds)
    )
    return MessageReport("f.eml", None, "<id>", sender, sender, "s", trackers)


def test_summary_per_sender_most_tracking_first() -> None:
    rows = summarise_senders(
        [
            _report("a@x.example", TrackerKind.PIXEL),
            _report("b@y.example", TrackerKind.PIXEL, TrackerKind.CLICK, TrackerKind.CLICK),
            _report("a@x.example", service="SendGrid"),
            _report(None, TrackerKind.CLICK, service="HubSpot"),
        ]
    )
    assert [(r.sender, r.messages, r.tracked_messages, r.pixels, r.clicks) for r in rows] == [
        ("b@y.example", 1, 1, 1, 2),
        ("(no sender)", 1, 1, 0, 1),
        ("a@x.example", 2, 1, 1, 0),
    ]
    assert rows[0].services == ("Mailchimp",)


def test_json_is_always_valid_text() -> None:
    report = MessageReport(
        "f\udcff.eml",
        "5.bad\udcff",  # a Maildir file name with a raw 0xFF byte
        "<id>",
        "A <a@x.example>",
        "a@x.example",
        "caf\udce9",
        (Tracker("https://t.example/\udcff", TrackerKind.PIXEL, "why", None, None),),
        ("problem",),
    )
    data = to_json([report])
    text = json.dumps(data, ensure_ascii=False)
    text.encode("utf-8")  # no lone surrogates left
    assert data[0]["subject"] == "caf\ufffd"
    assert data[0]["key"] == "5.bad\ufffd"
    assert data[0]["trackers"][0] == {
        "url": "https://t.example/\ufffd",
        "kind": "pixel",
        "reason": "why",
        "service": None,
        "target": None,
    }
    assert set(data[0]) == {"file", "key", "message_id", "from", "subject", "trackers", "errors"}
