"""Precision and recall on the generated, labelled corpus (scripts/make_mail_corpus.py).

The figures are printed, recorded with ``record_property`` (they land in a
JUnit XML report) and written into every assertion message, so they are seen
whether or not output is captured.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from trackpref.mail import MessageReport, clean_path, scan_path

THRESHOLD = 0.95


def _score(reports: list[MessageReport], labels: dict[str, Any], kind: str) -> tuple[int, int, int]:
    key = {"pixel": "pixels", "click": "clicks"}[kind]
    tp = fp = fn = 0
    for report in reports:
        assert report.message_id is not None
        truth = set(labels["messages"][report.message_id][key])
        found = {t.url for t in report.trackers if t.kind.value == kind}
        tp += len(found & truth)
        fp += len(found - truth)
        fn += len(truth - found)
    return tp, fp, fn


def test_precision_and_recall_for_pixels_and_clicks(
    eml_corpus: tuple[Path, dict[str, Any]], record_property: Any
) -> None:
    mail_dir, labels = eml_corpus
    reports = list(scan_path(mail_dir).reports)
    assert len(reports) == len(labels["messages"])
    lines = []
    scores = {}
    for kind in ("pixel", "click"):
        tp, fp, fn = _score(reports, labels, kind)
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        scores[kind] = (precision, recall)
        record_property(f"{kind}_precision", round(precision, 4))
        record_property(f"{kind}_recall", round(recall, 4))
        lines.append(
            f"{kind}s: precision {precision:.3f} recall {recall:.3f} (tp={tp} fp={fp} fn={fn})"
        )
    figures = f"{len(reports)} messages; " + "; ".join(lines)
    print(figures)
    for precision, recall in scores.values():
        assert precision >= THRESHOLD, figures
        assert recall >= THRESHOLD, figures


def test_recovered_destinations_are_the_real_ones(
    eml_corpus: tuple[Path, dict[str, Any]], record_property: Any
) -> None:
    mail_dir, labels = eml_corpus
    right = wrong = unrecovered = 0
    for report in scan_path(mail_dir).reports:
        assert report.message_id is not None
        targets = labels["messages"][report.message_id]["targets"]
        for tracker in report.clicks:
            if tracker.url not in targets:
                continue
            expected = targets[tracker.url]
            if tracker.target is None:
                unrecovered += expected is not None
            elif tracker.target == expected:
                right += 1
            else:
                wrong += 1
    figures = (
        f"destinations: {right} right, {wrong} wrong, {unrecovered} recoverable but not recovered"
    )
    record_property("targets_right", right)
    record_property("targets_wrong", wrong)
    print(figures)
    assert wrong == 0, figures
    assert right > 0, figures


def test_cleaning_the_corpus_removes_what_was_found(
    eml_corpus: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    mail_dir, _ = eml_corpus
    summary = clean_path(mail_dir, tmp_path)
    assert all(not e.startswith("internal error") for r in summary.reports for e in r.errors)
    rescanned = scan_path(summary.output).reports
    before = sum(len(r.pixels) for r in summary.reports)
    after = sum(len(r.pixels) for r in rescanned)
    assert before > 100
    # what the cleaner removes, a second scan no longer finds
    assert after == 0, f"{after} of {before} pixels survived cleaning"
    assert summary.removed_pixels == before


def test_the_corpus_is_honest(eml_corpus: tuple[Path, dict[str, Any]]) -> None:
    """It holds the look-alike negatives that make the figures mean something."""
    _, labels = eml_corpus
    negative_images = [u for m in labels["messages"].values() for u in m["negative_images"]]
    negative_links = [u for m in labels["messages"].values() for u in m["negative_links"]]
    for needle in (
        "/spacer.gif",
        "clear.gif?v=",
        "/assets/spacer-",
        "-mobile",
        "logo-dark",
        "countdown",
    ):
        assert any(needle in u for u in negative_images), needle
    for needle in (
        "unsubscribe",
        "email-preferences",
        "/email/view/",
        "sharer.php",
        "login?next=",
        "reset?token=",
        "signin?continue=",
        "calendar.google.com",
        "bit.ly",
    ):
        assert any(needle in u for u in negative_links), needle
    copies: dict[str, list[dict[str, Any]]] = {}
    for message in labels["messages"].values():
        copies.setdefault(message["file"].split("-", 1)[1], []).append(message)
    assert sum(1 for group in copies.values() if len(group) > 1) >= 20


def test_the_corpus_is_deterministic(corpus_module: ModuleType, tmp_path: Path) -> None:
    first = corpus_module.generate(tmp_path / "a", seed=3, campaigns=6)
    second = corpus_module.generate(tmp_path / "b", seed=3, campaigns=6)
    assert json.loads(first.read_text())["messages"] == json.loads(second.read_text())["messages"]
    names = sorted(p.name for p in (tmp_path / "a" / "mail").iterdir())
    for name in names:
        assert (tmp_path / "a" / "mail" / name).read_bytes() == (
            tmp_path / "b" / "mail" / name
        ).read_bytes()


@pytest.mark.parametrize("fmt", ["mbox", "maildir"])
def test_every_container_gives_the_same_findings(
    corpus_module: ModuleType, tmp_path: Path, fmt: str
) -> None:
    eml = json.loads(corpus_module.generate(tmp_path / "eml", seed=5, campaigns=8).read_text())
    other = json.loads(
        corpus_module.generate(tmp_path / fmt, seed=5, campaigns=8, fmt=fmt).read_text()
    )

    def findings(root: Path) -> dict[str | None, set[tuple[str, str]]]:
        return {
            r.message_id: {(t.url, t.kind.value) for t in r.trackers}
            for r in scan_path(root).reports
        }

    assert findings(tmp_path / "eml" / eml["mail"]) == findings(tmp_path / fmt / other["mail"])
