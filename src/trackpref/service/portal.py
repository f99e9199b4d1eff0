"""The public rights portal: access, correction, deletion, opt-out; exceptions; inventory.

The ledger does the work (:class:`trackpref.ledger.rights.DataRights`): a
request is recorded with its deadline, a one-time code goes to the e-mail
address (single use, expiring, five tries), and only a verified request is
answered. The portal adds what a browser needs, and nothing that could let
one person read another's data:

* a request is addressed by an unguessable id, and only the code sent to its
  address verifies it;
* the browser that verified it gets a short-lived grant (an HMAC-signed
  cookie bound to that site and request); the export download, and the
  correction form, need that grant;
* a pseudonymous id the browser holds (the trackpref script keeps it in
  ``localStorage`` when the person allows tracking) is attached to the request
  only *after* the code is verified, and never if another address already
  claimed it. The link it creates is removed again once an access or
  correction request is answered; a deletion deletes everything;
* codes can be resent at most three times per request, so the form cannot be
  used to flood a mailbox or to buy more guesses;
* every form carries a CSRF token.

The exceptions page lists and revokes the exceptions this browser granted
through the exception API (the middleware's consent records).
"""

from __future__ import annotations

import enum
import json
import logging
import re
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from .._untrusted import whole_number
from ..ledger.render import render_html, render_json
from ..ledger.rights import Regime, RequestKind, RightsError
from ..ledger.storage import RightsRequest, StoreError
from ..signals.errors import SignalError
from ..signals.tracking_exceptions import ExceptionSet
from ..web.consent import CONSENT_COOKIE, valid_consent_id
from .corrections import CORRECTABLE, check_correction
from .events import check_site
from .forms import FormError, read_form
from .templating import render

if TYPE_CHECKING:
    from .runtime import Service

log = logging.getLogger("trackpref.service")

__all__ = ["Portal"]

GRANT_COOKIE = "tp_rights"
GRANT_SECONDS = 900
MAX_RESENDS = 3
_ID = re.compile(r"[A-Za-z0-9_-]{16,64}\Z")
_NO_STORE = {"cache-control": "no-store"}
_NOTHING_HELD = (
    "Nothing held here is linked to you. Page views sent without an id keep only a "
    "daily visitor hash that nobody can link to you once the day's salt is destroyed, and "
    "do-not-track page views are only counted."
)


class Portal:
    def __init__(self, service: Service) -> None:
        self.service = service
        self.auth = service.auth

    # -- helpers ---------------------------------------------------------------
    def _page(self, request: Request, template: str, code: int = 200, **context: Any) -> Response:
        nonce, cookie = self.auth.portal_nonce(request)
        html = render(template, csrf=self.auth.portal_csrf(nonce), **context)
        response = HTMLResponse(html, status_code=code, headers=_NO_STORE)
        if cookie:
            response.headers.append("set-cookie", cookie)
        return response

    def _problem(self, request: Request, status: int, message: str) -> Response:
        return self._page(request, "rights_error.html", status, status=status, message=message)

    async def _form(self, request: Request) -> dict[str, str] | Response:
        """The form's fields, or the page that says why it cannot be used."""
        try:
            data = await read_form(request)
        except FormError as exc:
            return self._problem(request, 400, f"The form could not be read: {str(exc)[:200]}.")
        if not self.auth.check_portal_csrf(request, data.get("csrf", "")):
            return self._problem(request, 403, "The form expired; please go back and try again.")
        return data

    def _site(self, value: str | None) -> str:
        site = check_site(value or "", "site")
        if site not in self.service.collector.known_sites():
            raise SignalError(f"site: this service holds no data for {site}", field="site")
        return site

    def _request(self, site: str, rid: str) -> RightsRequest | None:
        if not _ID.match(rid):
            return None
        return self.service.rights(site).store.get_request(rid)

    def _grant_subject(self, site: str, rid: str) -> str:
        return f"{site}|{rid}"

    def _granted(self, request: Request, site: str, rid: str) -> bool:
        return self.auth.check_grant(
            "rights", self._grant_subject(site, rid), request.cookies.get(GRANT_COOKIE)
        )

    # -- pages -----------------------------------------------------------------
    async def index(self, request: Request) -> Response:
        return self._page(
            request,
            "rights.html",
            sites=self.service.collector.known_sites(),
            site=request.query_params.get("site", ""),
            kinds=[k.value for k in RequestKind],
            error=None,
        )

    async def open_request(self, request: Request) -> Response:
        data = await self._form(request)
        if isinstance(data, Response):
            return data
        try:
            site = self._site(data.get("site"))
            kind = _choice(RequestKind, data.get("kind", ""), "kind")
            regime = _choice(Regime, data.get("regime", "gdpr"), "regime")
        except SignalError as exc:
            message = exc.message
            return self._page(
                request,
                "rights.html",
                400,
                sites=self.service.collector.known_sites(),
                site=data.get("site", ""),
                kinds=[k.value for k in RequestKind],
                error=message,
            )
        claim = data.get("vid", "").strip()
        detail: dict[str, Any] = {}
        if claim:
            if not _ID.match(claim):
                return self._problem(request, 400, "vid: not an id this service makes")
            detail["claim"] = claim
        rights = self.service.rights(site)
        try:
            opened = await run_in_threadpool(
                rights.open_request, kind, data.get("email", ""), regime=regime, detail=detail
            )
        except (RightsError, SignalError) as exc:
            return self._page(
                request,
                "rights.html",
                400,
                sites=self.service.collector.known_sites(),
                site=site,
                kinds=[k.value for k in RequestKind],
                error=exc.message,
            )
        return RedirectResponse(f"/rights/{site}/requests/{opened.id}", status_code=303)

    async def show_request(self, request: Request) -> Response:
        site, rid = request.path_params["site"], request.path_params["rid"]
        try:
            site = self._site(site)
        except SignalError as exc:
            return self._problem(request, 404, exc.message)
        found = await run_in_threadpool(self._request, site, rid)
        if found is None:
            return self._problem(request, 404, "No such request.")
        return self._page(
            request,
            "rights_request.html",
            correctable=CORRECTABLE,
            site=site,
            req=found,
            granted=self._granted(request, site, rid),
            message=None,
            demo=self.service.config.demo,
        )

    async def resend(self, request: Request) -> Response:
        site, rid = request.path_params["site"], request.path_params["rid"]
        data = await self._form(request)
        if isinstance(data, Response):
            return data
        try:
            site = self._site(site)
        except SignalError as exc:
            return self._problem(request, 404, exc.message)
        found = await run_in_threadpool(self._request, site, rid)
        if found is None:
            return self._problem(request, 404, "No such request.")
        sent = int(found.detail.get("resends", 0))
        if sent >= MAX_RESENDS:
            return self._problem(
                request, 429, "No more codes for this request; open a new one if you need to."
            )
        rights = self.service.rights(site)
        try:
            await run_in_threadpool(rights.resend_code, rid)
        except RightsError as exc:
            return self._problem(request, 409, exc.message)
        rights.store.update_request(rid, detail={**found.detail, "resends": sent + 1})
        return RedirectResponse(f"/rights/{site}/requests/{rid}", status_code=303)

    async def verify(self, request: Request) -> Response:
        site, rid = request.path_params["site"], request.path_params["rid"]
        data = await self._form(request)
        if isinstance(data, Response):
            return data
        try:
            site = self._site(site)
        except SignalError as exc:
            return self._problem(request, 404, exc.message)
        found = await run_in_threadpool(self._request, site, rid)
        if found is None:
            return self._problem(request, 404, "No such request.")
        rights = self.service.rights(site)
        try:
            verified = await run_in_threadpool(rights.verify, rid, data.get("code", ""))
        except (RightsError, SignalError) as exc:
            return self._page(
                request,
                "rights_request.html",
                400,
                correctable=CORRECTABLE,
                site=site,
                req=found,
                granted=False,
                message=exc.message,
                demo=self.service.config.demo,
            )
        await run_in_threadpool(self._link_claim, site, verified)
        kind = RequestKind(verified.kind)
        if kind in (RequestKind.DELETION, RequestKind.OPT_OUT):
            try:
                answer = await run_in_threadpool(self._fulfil, site, rid, None)
            except (RightsError, StoreError) as exc:
                # Nothing was deleted (a key that would not go, a store that
                # failed); the request stays open, its detail and the log say why.
                log.error("rights request %s/%s verified, not completed: %s", site, rid, exc)
                return self._problem(
                    request,
                    503,
                    "Your request is verified, but it could not be completed yet. It stays "
                    "open, and the site must complete it within the legal deadline.",
                )
            return self._page(
                request, "rights_done.html", site=site, kind=kind.value, answer=answer
            )
        grant = self.auth.grant(
            "rights", self._grant_subject(site, rid), int(time.time()) + GRANT_SECONDS
        )
        response = RedirectResponse(f"/rights/{site}/requests/{rid}", status_code=303)
        response.set_cookie(
            GRANT_COOKIE,
            grant,
            max_age=GRANT_SECONDS,
            path="/rights/",
            httponly=True,
            samesite="strict",
            secure=self.service.config.secure_cookies,
        )
        return response

    def _link_claim(self, site: str, req: RightsRequest) -> None:
        """Attach the browser's id once the address is proven, unless another owns it."""
        claim = req.detail.get("claim")
        if not isinstance(claim, str) or not _ID.match(claim) or not req.email:
            return
        rights = self.service.rights(site)
        store = rights.store
        subject = store.get_subject(claim)
        created = False
        if subject is None:
            if not store.events_for_subject(claim):
                return  # nothing held under that id: no link is made
            rights.register_subject(claim, email=req.email)
            created = True
        elif subject.email != req.email:
            return
        subjects = list(req.detail.get("subjects", []))
        if claim not in subjects:
            subjects.append(claim)
        store.update_request(
            req.id,
            subject_ref=req.subject_ref or claim,
            detail={**req.detail, "subjects": subjects, "linked_now": created},
        )

    def _fulfil(
        self, site: str, rid: str, corrections: list[Mapping[str, Any]] | None
    ) -> dict[str, Any]:
        rights = self.service.rights(site)
        req = rights.store.get_request(rid)
        linked_now = bool(req and req.detail.get("linked_now"))
        claim = req.detail.get("claim") if req else None
        answer = rights.fulfil(rid, corrections=corrections)
        kind = answer.get("kind")
        if linked_now and isinstance(claim, str) and kind in ("access", "correction"):
            # The e-mail link existed only to answer this request.
            rights.store.delete_subject(claim)
        if kind == "access" and not answer.get("subjects"):
            answer["note"] = _NOTHING_HELD
        return answer

    async def export(self, request: Request) -> Response:
        site, rid = request.path_params["site"], request.path_params["rid"]
        try:
            site = self._site(site)
        except SignalError as exc:
            return JSONResponse({"error": exc.message, "field": "site"}, status_code=404)
        if not self._granted(request, site, rid):
            return JSONResponse(
                {
                    "error": "verify the request with its code first (in this browser)",
                    "field": "code",
                },
                status_code=403,
                headers=_NO_STORE,
            )
        found = await run_in_threadpool(self._request, site, rid)
        if found is None or found.kind != RequestKind.ACCESS.value:
            return JSONResponse({"error": "no such access request", "field": "request"}, 404)
        if found.status != "verified":
            return JSONResponse(
                {
                    "error": f"this request is {found.status}; the export is given once",
                    "field": "request",
                },
                status_code=410,
                headers=_NO_STORE,
            )
        try:
            answer = await run_in_threadpool(self._fulfil, site, rid, None)
        except (RightsError, StoreError) as exc:
            return JSONResponse({"error": str(exc), "field": "request"}, 409)
        body = json.dumps(answer, indent=2, ensure_ascii=False, default=str).encode()
        return Response(
            body,
            media_type="application/json",
            headers={
                "content-disposition": f'attachment; filename="trackpref-export-{site}.json"',
                **_NO_STORE,
            },
        )

    async def correct(self, request: Request) -> Response:
        site, rid = request.path_params["site"], request.path_params["rid"]
        data = await self._form(request)
        if isinstance(data, Response):
            return data
        try:
            site = self._site(site)
        except SignalError as exc:
            return self._problem(request, 404, exc.message)
        if not self._granted(request, site, rid):
            return self._problem(request, 403, "Verify the request with its code first.")
        found = await run_in_threadpool(self._request, site, rid)
        if found is None or found.kind != RequestKind.CORRECTION.value:
            return self._problem(request, 404, "No such correction request.")
        dataset, _, field = data.get("field", "").partition(".")
        try:
            value = check_correction(dataset, field, data.get("value"))
            change: dict[str, Any] = {"dataset": dataset, "field": field, "value": value}
            answer = await run_in_threadpool(self._fulfil, site, rid, [change])
        except (RightsError, SignalError) as exc:
            return self._page(
                request,
                "rights_request.html",
                400,
                correctable=CORRECTABLE,
                site=site,
                req=found,
                granted=True,
                message=exc.message,
                demo=self.service.config.demo,
            )
        return self._page(request, "rights_done.html", site=site, kind="correction", answer=answer)

    # -- exceptions --------------------------------------------------------------
    def _consent_id(self, request: Request) -> str | None:
        cid = request.cookies.get(CONSENT_COOKIE)
        return cid if cid and valid_consent_id(cid) else None

    async def exceptions(self, request: Request) -> Response:
        cid = self._consent_id(request)
        current = self.service.consent_store.load(cid) if cid else ExceptionSet()
        now = time.time()
        grants = [
            {
                "index": i,
                "name": g.name,
                "explanation": g.explanation,
                "duplets": [(d.site, d.target) for d in g.duplets],
                "created": g.created,
                "expires": g.expires,
                "live": g.live(now),
            }
            for i, g in enumerate(current.grants)
        ]
        return self._page(request, "rights_exceptions.html", grants=grants, revoked=None)

    async def revoke(self, request: Request) -> Response:
        data = await self._form(request)
        if isinstance(data, Response):
            return data
        cid = self._consent_id(request)
        if cid is None:
            return self._page(request, "rights_exceptions.html", grants=[], revoked=0)
        store = self.service.consent_store
        current = store.load(cid)
        which = data.get("index", "all")
        if which == "all":
            kept: tuple[Any, ...] = ()
        elif (index := whole_number(which, max_digits=6)) is not None and index < len(
            current.grants
        ):
            kept = tuple(g for i, g in enumerate(current.grants) if i != index)
        else:
            return self._problem(request, 400, "index: no such exception")
        revoked = len(current.grants) - len(kept)
        await run_in_threadpool(
            store.save, cid, ExceptionSet(kept), event="remove", now=time.time()
        )
        now = time.time()
        grants = [
            {
                "index": i,
                "name": g.name,
                "explanation": g.explanation,
                "duplets": [(d.site, d.target) for d in g.duplets],
                "created": g.created,
                "expires": g.expires,
                "live": g.live(now),
            }
            for i, g in enumerate(kept)
        ]
        return self._page(request, "rights_exceptions.html", grants=grants, revoked=revoked)

    # -- inventory -------------------------------------------------------------------
    async def inventory(self, request: Request) -> Response:
        return HTMLResponse(render_html(self.service.inventory))

    async def inventory_json(self, request: Request) -> Response:
        return Response(render_json(self.service.inventory), media_type="application/json")


_E = TypeVar("_E", bound=enum.StrEnum)


def _choice(kind: type[_E], value: str, field: str) -> _E:
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(m.value for m in kind)
        raise SignalError(f"{field}: choose one of {choices}", field=field) from None
