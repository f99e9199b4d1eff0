"""Builders for recorded visits, so the analysis can be tested without a browser."""

from __future__ import annotations

from trackpref.audit.consent import ConsentSnapshot
from trackpref.audit.failures import Failure
from trackpref.audit.observation import CookieRecord, Observation, RequestRecord, StorageRecord
from trackpref.audit.states import SignalState, spec_for


def request(
    url: str,
    *,
    state: SignalState = SignalState.NO_SIGNAL,
    headers: dict[str, str] | None = None,
    response: dict[str, str] | list[tuple[str, str]] | None = None,
    status: int = 200,
    navigation: bool = False,
    post: bytes | None = None,
) -> RequestRecord:
    """A request carrying ``state``'s signal headers plus ``headers``."""
    sent = {"user-agent": "fake"}
    sent.update({k.lower(): v for k, v in spec_for(state).headers.items()})
    sent.update({k.lower(): v for k, v in (headers or {}).items()})
    pairs = list(response.items()) if isinstance(response, dict) else list(response or [])
    return RequestRecord(
        url=url,
        headers=tuple(sent.items()),
        status=status,
        response_headers=tuple(pairs),
        navigation=navigation,
        post_data=post,
    )


def visit(
    state: SignalState,
    page: str,
    *requests: RequestRecord,
    cookies: tuple[CookieRecord, ...] = (),
    storage: tuple[StorageRecord, ...] = (),
    consent: ConsentSnapshot | None = None,
    failure: Failure | None = None,
    tk: str | None = None,
) -> Observation:
    """A visit whose first request is the page itself."""
    response = {"Tk": tk} if tk else None
    document = request(page, state=state, navigation=True, response=response)
    return Observation(
        state=state,
        url=page,
        final_url=page,
        document_status=200,
        requests=(document, *requests),
        cookies=cookies,
        storage=storage,
        consent=consent or ConsentSnapshot(),
        failure=failure,
    )


def tracking_visit(
    state: SignalState, page: str, uid: str, *, tk: str | None = None
) -> Observation:
    """A page that sends ``uid`` twice to tracker.example and gets a cookie from it."""
    return visit(
        state,
        page,
        request(f"https://tracker.example/collect?uid={uid}&ev=view", state=state),
        request(
            f"https://tracker.example/collect?uid={uid}&ev=scroll",
            state=state,
            response={"Set-Cookie": f"tid={uid[::-1]}; Path=/"},
        ),
        tk=tk,
    )
