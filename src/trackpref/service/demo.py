"""``trackpref serve --demo``: a publisher site that embeds the script, to see the loop.

A newcomer opens ``/demo/`` and sees, on one page: the signal their browser
sends, what the service kept of their page view (the gate's explanation for
their very preference), buttons to grant and revoke an exception, the
dashboard, and the rights portal with their own data. The development outbox
(``/demo/outbox``) shows the verification codes so the portal can be tried
without a mail server; it exists only in demo mode.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from .templating import render

if TYPE_CHECKING:
    from .runtime import Service

__all__ = ["ARTICLES", "demo_routes"]

ARTICLES = {
    1: ("Why your browser says “do not track”", "A short history of DNT and its successor, GPC."),
    2: (
        "What a first party may do",
        "Measuring a site for its owner is not following people around.",
    ),
    3: (
        "Aggregates that hold nobody",
        "k-anonymity, daily salts, and counting without identifiers.",
    ),
}


def demo_routes(service: Service) -> list[Route]:
    site = service.config.demo_site

    async def home(request: Request) -> Response:
        html = render("demo.html", site=site, article=None, articles=ARTICLES, number=0)
        return HTMLResponse(html, headers={"cache-control": "no-store"})

    async def article(request: Request) -> Response:
        n = request.path_params["n"]
        if n not in ARTICLES:
            return HTMLResponse(render("error.html", status=404, message="No such article."), 404)
        html = render("demo.html", site=site, article=ARTICLES[n], articles=ARTICLES, number=n)
        return HTMLResponse(html, headers={"cache-control": "no-store"})

    async def outbox(request: Request) -> Response:
        box = service.outbox()
        messages = []
        if box is not None:
            for m in box.messages()[-10:][::-1]:
                body = m.get_body(("plain",))
                messages.append(
                    {
                        "to": str(m["To"]),
                        "subject": str(m["Subject"]),
                        "body": body.get_content() if body is not None else "",
                    }
                )
        html = render("demo_outbox.html", messages=messages)
        return HTMLResponse(html, headers={"cache-control": "no-store"})

    return [
        Route("/demo/", home),
        Route("/demo/article/{n:int}", article),
        Route("/demo/outbox", outbox),
    ]
