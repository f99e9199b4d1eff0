"""``trackpref audit``: prove, in a real browser, whether a site and its partners
honor DNT and GPC, and whether their claims hold.

The package is a sans-IO core with thin adapters around it:

* adapters: :mod:`.driver` (Chromium through Playwright), :mod:`.fetch`
  (well-known declarations over HTTP, with the browser's host mapping),
  :mod:`.store` (SQLite results), :mod:`.crawl` (many sites, resumable);
* core: :mod:`.identifiers`, :mod:`.referrers`, :mod:`.traffic`,
  :mod:`.consent` and :mod:`.gpp`, :mod:`.declarations`, :mod:`.trackers`,
  :mod:`.verdicts`, :mod:`.history`; and the report writers
  :mod:`.report` (``report.json``) and :mod:`.report_html`.

Importing this package does not import Playwright; the names below are the
pure ones. Import :mod:`trackpref.audit.crawl` or :mod:`.driver` for the rest.
"""

from __future__ import annotations

from .declarations import OriginDeclarations, SiteDeclarations
from .failures import Failure, FailureKind
from .hostrules import HostRules, parse_host_rules
from .observation import Observation
from .report import SCHEMA_VERSION, build_report, site_to_json
from .runner import AuditConfig, normalize_url
from .site import SiteAudit, analyse_site
from .states import DEFAULT_STATES, SignalState
from .trackers import TrackerKnowledge, load_tds
from .verdicts import Evidence, Verdict, Verdicts, judge

__all__ = [
    "DEFAULT_STATES",
    "SCHEMA_VERSION",
    "AuditConfig",
    "Evidence",
    "Failure",
    "FailureKind",
    "HostRules",
    "Observation",
    "OriginDeclarations",
    "SignalState",
    "SiteAudit",
    "SiteDeclarations",
    "TrackerKnowledge",
    "Verdict",
    "Verdicts",
    "analyse_site",
    "build_report",
    "judge",
    "load_tds",
    "normalize_url",
    "parse_host_rules",
    "site_to_json",
]
