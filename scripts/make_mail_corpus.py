#!/usr/bin/env python3
"""Generate a labelled corpus of marketing and transactional e-mail.

No public, licensed corpus of marketing mail with labelled tracking pixels
exists, so this builds one with the standard ``email`` package from the URL
shapes real e-mail services use (Mailchimp's ``list-manage.com/track/open.php``,
SendGrid's ``/wf/open?upn=``, Amazon SES's ``awstrack.me/L0/<target>``, ...).
Every URL is labelled when it is written, from what it *is* (an open endpoint,
a click wrapper, a logo), never from what the detector would say.

It is meant to be hard, not flattering: campaigns go to several recipients
(so tokens differ between copies), and the negatives look like positives:
1x1 spacers on the sender's static host, hidden responsive images, CDN image
names full of hashes, unsubscribe and password-reset links with per-recipient
tokens, share buttons whose query holds a URL, login links with ``next=``.
A few positives are out of reach of single-message heuristics on purpose
(an unknown service's opaque redirect host).

Labels go to ``labels.json`` next to the mail, keyed by Message-ID:
``pixels``/``clicks`` (tracking URLs), ``targets`` (click URL -> destination,
``null`` when only the tracker's server knows it), ``negative_images`` and
``negative_links``. Deterministic for a given ``--seed``.

Usage::

    python scripts/make_mail_corpus.py --out corpus/ [--seed 7] [--campaigns 80]
        [--format eml|mbox|maildir] [--size typical|small]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import mailbox
import random
import sys
import zlib
from dataclasses import dataclass, field
from datetime import UTC
from email.message import EmailMessage
from email.policy import SMTP, default
from email.utils import format_datetime
from html import escape, unescape
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

__all__ = ["generate"]

RECIPIENTS = [
    ("Alice Nguyen", "alice.nguyen@example.org"),
    ("Bram de Vries", "bram@example.net"),
    ("Chiara Rossi", "chiara.rossi@example.com"),
    ("Dmitri Volkov", "d.volkov@example.org"),
    ("Ebele Okafor", "ebele@example.net"),
    ("Farah Haddad", "farah.h@example.com"),
    ("Gustavo Lima", "gustavo@example.org"),
    ("Hana Sato", "hana.sato@example.net"),
    ("Ines Duarte", "ines.duarte@example.com"),
    ("Jonas Berg", "jonas@example.org"),
    ("Kalani Akana", "kalani@example.net"),
    ("Lena Fischer", "lena.fischer@example.com"),
]

PRODUCTS = [
    "merino-wool-sweater",
    "linen-shirt",
    "canvas-tote",
    "trail-runner",
    "rain-shell",
    "wool-beanie",
    "leather-belt",
    "denim-jacket",
    "cotton-tee",
    "hiking-socks",
    "travel-mug",
    "down-vest",
]
ARTICLES = [
    "how-we-source-our-wool",
    "spring-trail-guide",
    "five-packing-tips",
    "meet-the-makers",
    "repair-dont-replace",
    "the-year-in-review",
    "community-picks",
    "behind-the-seams",
]


@dataclass(frozen=True)
class Brand:
    name: str
    domain: str
    esp: str
    cdn: str
    kind: str  # "retail", "news", "saas"


BRANDS = [
    Brand("Northwind Outfitters", "northwind-outfitters.example", "mailchimp", "shopify", "retail"),
    Brand("Alpine Press", "alpinepress.example", "substack", "substack", "news"),
    Brand("Cobalt Cloud", "cobaltcloud.example", "sendgrid", "contentful", "saas"),
    Brand("Fernwood Books", "fernwoodbooks.example", "mandrill", "cloudinary", "retail"),
    Brand("Harbor Coffee", "harborcoffee.example", "klaviyo", "shopify", "retail"),
    Brand("Lumen Analytics", "lumenanalytics.example", "hubspot", "own", "saas"),
    Brand("Quill & Ink", "quillandink.example", "convertkit", "own", "news"),
    Brand("Pine Street Market", "pinestreet.example", "brevo", "cloudinary", "retail"),
    Brand("Orbit Fitness", "orbitfitness.example", "customerio", "imgix", "saas"),
    Brand("Riverbend Bank", "riverbendbank.example", "ses", "own", "saas"),
    Brand("Tidal Records", "tidalrecords.example", "mailjet", "cloudinary", "retail"),
    Brand("Civic Ledger", "civicledger.example", "constantcontact", "own", "news"),
    Brand("Meadow Garden Co", "meadowgarden.example", "campaignmonitor", "imgix", "retail"),
    Brand("Vega Travel", "vegatravel.example", "mailgun", "contentful", "retail"),
    Brand("Ember Games", "embergames.example", "inhouse", "own", "retail"),
    Brand("Keystone Weekly", "keystoneweekly.example", "adtech", "own", "news"),
    Brand("Nimbus Notes", "nimbusnotes.example", "postmark", "own", "saas"),
    Brand("Saffron Kitchen", "saffronkitchen.example", "unknown", "own", "retail"),
    Brand(
        "Granite Hardware", "granitehardware.example", "mailchimp-ecommerce", "shopify", "retail"
    ),
    Brand("Octave Audio", "octaveaudio.example", "hubspot-direct", "imgix", "retail"),
]


@dataclass
class Labels:
    pixels: list[str] = field(default_factory=list)
    clicks: list[str] = field(default_factory=list)
    targets: dict[str, str | None] = field(default_factory=dict)
    negative_images: list[str] = field(default_factory=list)
    negative_links: list[str] = field(default_factory=list)

    def pixel(self, url: str) -> str:
        if url not in self.pixels:
            self.pixels.append(url)
        return url

    def click(self, url: str, target: str | None) -> str:
        if url not in self.clicks:
            self.clicks.append(url)
            self.targets[url] = target
        return url

    def neg_image(self, url: str) -> str:
        if url not in self.negative_images:
            self.negative_images.append(url)
        return url

    def neg_link(self, url: str) -> str:
        if url not in self.negative_links:
            self.negative_links.append(url)
        return url

    def to_json(self) -> dict[str, Any]:
        return {
            "pixels": self.pixels,
            "clicks": self.clicks,
            "targets": self.targets,
            "negative_images": self.negative_images,
            "negative_links": self.negative_links,
        }


@dataclass
class Ctx:
    seed: int
    brand: Brand
    campaign: str
    recipient: tuple[str, str]
    labels: Labels
    rng: random.Random  # campaign-level: the same for every copy
    track_clicks: bool = True
    charset: str = "utf-8"

    @property
    def charset_sample(self) -> str:
        if self.charset == "iso-8859-1":
            return "Café crème, naïve déjà vu: our autumn blend is back."
        if self.charset == "windows-1252":
            return "\u201cThe best mug I\u2019ve owned\u201d \u2013 a reader."
        return "Caf\u00e9 cr\u00e8me \u2615 \u2014 new this week."

    # -- deterministic identifiers ---------------------------------------------------
    def _digest(self, purpose: str, per_recipient: bool) -> bytes:
        who = self.recipient[1] if per_recipient else "*"
        text = f"{self.seed}|{self.brand.domain}|{self.campaign}|{who}|{purpose}"
        return hashlib.sha256(text.encode()).digest() + hashlib.sha512(text.encode()).digest()

    def hex(self, purpose: str, n: int, per_recipient: bool = True) -> str:
        return self._digest(purpose, per_recipient).hex()[:n]

    def b64(self, purpose: str, n: int, per_recipient: bool = True) -> str:
        raw = self._digest(purpose, per_recipient) * 4
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")[:n]

    def digits(self, purpose: str, n: int, per_recipient: bool = False) -> str:
        value = int.from_bytes(self._digest(purpose, per_recipient)[:16], "big")
        return str(value)[:n]

    @property
    def address(self) -> str:
        return self.recipient[1]


def _b64json(obj: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj, separators=(",", ":")).encode()).decode()


def _pixel_tag(url: str, style: str = "", size: bool = True, alt: bool = True) -> str:
    attrs = [f'src="{escape(url)}"']
    if size:
        attrs.append('width="1" height="1"')
    if alt:
        attrs.append('alt=""')
    attrs.append('border="0"')
    if style:
        attrs.append(f'style="{style}"')
    return "<img " + " ".join(attrs) + ">"


SENDGRID_PIXEL_STYLE = (
    "height:1px !important;width:1px !important;border-width:0 !important;"
    "margin-top:0 !important;margin-bottom:0 !important;margin-right:0 !important;"
    "margin-left:0 !important;padding-top:0 !important;padding-bottom:0 !important;"
    "padding-right:0 !important;padding-left:0 !important;"
)


# -- e-mail services ------------------------------------------------------------------
# Each returns the open-pixel HTML, wraps links, and gives the unsubscribe link.


class ESP:
    name = "none"
    tracks_text = True

    def pixel(self, ctx: Ctx) -> str:
        return ""

    def wrap(self, ctx: Ctx, target: str, index: int) -> str:
        return ctx.labels.neg_link(target)

    def unsubscribe(self, ctx: Ctx) -> str:
        return ctx.labels.neg_link(
            f"https://{ctx.brand.domain}/email/unsubscribe?token={ctx.b64('unsub', 32)}"
        )

    def headers(self, ctx: Ctx) -> dict[str, str]:
        return {}


class Mailchimp(ESP):
    name = "mailchimp"

    def _host(self, ctx: Ctx) -> str:
        dc = int(ctx.digits("dc", 2)) % 20 + 1
        return f"{ctx.brand.domain.split('.')[0]}.us{dc}.list-manage.com"

    def _ids(self, ctx: Ctx) -> tuple[str, str, str]:
        u = ctx.hex("account", 25, per_recipient=False)
        cid = ctx.hex("campaign", 10, per_recipient=False)
        e = ctx.hex("subscriber", 10)
        return u, cid, e

    def pixel(self, ctx: Ctx) -> str:
        u, cid, e = self._ids(ctx)
        url = ctx.labels.pixel(f"https://{self._host(ctx)}/track/open.php?u={u}&id={cid}&e={e}")
        return f'<img src="{escape(url)}" height="1" width="1">'

    def wrap(self, ctx: Ctx, target: str, index: int) -> str:
        if not ctx.track_clicks:
            return ctx.labels.neg_link(target)
        u, _, e = self._ids(ctx)
        link_id = ctx.hex(f"link{index}", 10, per_recipient=False)
        url = f"https://{self._host(ctx)}/track/click?u={u}&id={link_id}&e={e}"
        return ctx.labels.click(url, None)

    def unsubscribe(self, ctx: Ctx) -> str:
        u, cid, e = self._ids(ctx)
        lid = ctx.hex("list", 10, per_recipient=False)
        return ctx.labels.neg_link(
            f"https://{self._host(ctx)}/unsubscribe?u={u}&id={lid}&e={e}&c={cid}"
        )

    def headers(self, ctx: Ctx) -> dict[str, str]:
        return {"List-Id": f"{ctx.brand.name} <{ctx.hex('list', 10, False)}.list-id.mcsv.net>"}


class MailchimpEcommerce(Mailchimp):
    """Click tracking off, e-commerce tracking on: ``mc_cid``/``mc_eid`` on direct links."""

    name = "mailchimp-ecommerce"

    def wrap(self, ctx: Ctx, target: str, index: int) -> str:
        if index % 3 == 2:  # some links are left alone
            return ctx.labels.neg_link(target)
        _, cid, e = self._ids(ctx)
        sep = "&" if "?" in target else "?"
        url = f"{target}{sep}mc_cid={cid}&mc_eid={e}"
        stripped = f"{target}{sep}mc_cid={cid}"
        return ctx.labels.click(url, stripped)


class SendGrid(ESP):
    name = "sendgrid"

    def _ct(self, ctx: Ctx) -> str:
        return f"u{ctx.digits('sgid', 7)}.ct.sendgrid.net"

    def pixel(self, ctx: Ctx) -> str:
        upn = ctx.b64("open-upn", 180)
        url = ctx.labels.pixel(f"https://{self._ct(ctx)}/wf/open?upn={upn}")
        return _pixel_tag(url, style=SENDGRID_PIXEL_STYLE)

    def wrap(self, ctx: Ctx, target: str, index: int) -> str:
        upn = ctx.b64(f"click-upn{index}", 220)
        branded = f"url{ctx.digits('brandlink', 4)}.{ctx.brand.domain}"
        host = branded if index % 2 == 0 else self._ct(ctx)
        return ctx.labels.click(f"https://{host}/ls/click?upn={upn}", None)

    def unsubscribe(self, ctx: Ctx) -> str:
        data = ctx.b64("asm", 90)
        return ctx.labels.neg_link(
            f"https://{self._ct(ctx)}/asm/unsubscribe/?user_id={ctx.digits('sguser', 8)}&"
            f"data={data}"
        )


class Mandrill(ESP):
    name = "mandrill"

    def pixel(self, ctx: Ctx) -> str:
        url = (
            f"https://mandrillapp.com/track/open.php?u={ctx.digits('mu', 8)}&"
            f"id={ctx.hex('mid', 32)}"
        )
        return _pixel_tag(ctx.labels.pixel(url))

    def wrap(self, ctx: Ctx, target: str, index: int) -> str:
        inner = json.dumps(
            {"u": int(ctx.digits("mu", 8)), "v": 1, "url": target, "id": ctx.hex("mid", 32)},
            separators=(",", ":"),
        )
        p = _b64json({"p": inner})
        host = target.split("/")[2]
        url = f"https://mandrillapp.com/track/click/{ctx.digits('mu', 8)}/{host}?p={p}"
        return ctx.labels.click(url, target)


class Substack(ESP):
    name = "substack"

    def pixel(self, ctx: Ctx) -> str:
        slug = ctx.brand.domain.split(".")[0]
        if int(ctx.digits("variant", 2)) % 2:
            token = _b64json(
                {"post_id": int(ctx.digits("post", 9)), "user_id": int(ctx.digits("uid", 8, True))}
            )
            url = (
                f"https://eotrx.substackcdn.com/open?token={token}&ad_id=&sig={ctx.b64('sig', 43)}"
            )
        else:
            url = f"https://{slug}.substack.com/o/{ctx.b64('open', 64)}"
        return _pixel_tag(ctx.labels.pixel(url), size=False) + ""

    def wrap(self, ctx: Ctx, target: str, index: int) -> str:
        payload = {
            "e": target,
            "p": int(ctx.digits("post", 9)),
            "s": int(ctx.digits("pub", 7)),
            "f": True,
            "u": int(ctx.digits("uid", 8, True)),
        }
        url = f"https://substack.com/redirect/2/{_b64json(payload)}?j={ctx.b64(f'j{index}', 120)}"
        return ctx.labels.click(url, target)

    def unsubscribe(self, ctx: Ctx) -> str:
        slug = ctx.brand.domain.split(".")[0]
        return ctx.labels.neg_link(
            f"https://{slug}.substack.com/action/disable_email?token={ctx.b64('unsub', 140)}"
        )


class Klaviyo(ESP):
    name = "klaviyo"

    def pixel(self, ctx: Ctx) -> str:
        url = f"https://trk.klaviyomail.com/{ctx.b64('kopen', 40)}/open"
        return _pixel_tag(ctx.labels.pixel(url), style="display:block;border:0")

    def wrap(self, ctx: Ctx, target: str, index: int) -> str:
        if index % 2:
            kx = ctx.b64("kx", 40)
            sep = "&" if "?" in target else "?"
            return ctx.labels.click(f"{target}{sep}_kx={kx}", target)
        url = (
            "https://ctrk.klclick.com/l/"
            f"{ctx.b64(f'kl{index}', 26).upper()}_{ctx.hex(f'kx{index}', 6)}"
        )
        return ctx.labels.click(url, None)


class HubSpot(ESP):
    name = "hubspot"

    def pixel(self, ctx: Ctx) -> str:
        url = f"https://t.hubspotemail.net/e2t/o/{ctx.b64('hopen', 20)}/{ctx.b64('hopen2', 90)}"
        return _pixel_tag(ctx.labels.pixel(url), style="display:none!important", size=False)

    def wrap(self, ctx: Ctx, target: str, index: int) -> str:
        host = f"{ctx.hex('hsid', 8, False)}.na1.hubspotlinks.com"
        url = f"https://{host}/Ctc/5E+113/{ctx.hex('hs', 8, False)}/{ctx.b64(f'hsc{index}', 150)}"
        return ctx.labels.click(url, None)


class HubSpotDirect(HubSpot):
    """HubSpot with link tracking replaced by ``_hsenc``/``_hsmi`` on direct links."""

    name = "hubspot-direct"

    def wrap(self, ctx: Ctx, target: str, index: int) -> str:
        hsenc = "p2ANqtz-" + ctx.b64("hsenc", 60)
        sep = "&" if "?" in target else "?"
        url = f"{target}{sep}_hsenc={hsenc}&_hsmi={ctx.digits('hsmi', 8)}"
        return ctx.labels.click(url, target)


class ConvertKit(ESP):
    name = "convertkit"

    def pixel(self, ctx: Ctx) -> str:
        url = f"https://open.convertkit-mail2.com/{ctx.b64('ckopen', 28).lower()}"
        return _pixel_tag(ctx.labels.pixel(url), size=False, alt=True)

    def wrap(self, ctx: Ctx, target: str, index: int) -> str:
        encoded = base64.b64encode(target.encode()).decode()
        url = (
            f"https://click.convertkit-mail2.com/{ctx.b64('ck', 28).lower()}/"
            f"{ctx.hex(f'ckl{index}', 16, False)}/{encoded}"
        )
        return ctx.labels.click(url, target)


class Brevo(ESP):
    name = "brevo"

    def _host(self, ctx: Ctx) -> str:
        return f"{ctx.hex('brevo', 5, False)}.r.bh.d.sendibt3.com"

    def pixel(self, ctx: Ctx) -> str:
        url = f"https://{self._host(ctx)}/tr/op/{ctx.b64('bop', 120)}"
        return _pixel_tag(ctx.labels.pixel(url), style="display:block")

    def wrap(self, ctx: Ctx, target: str, index: int) -> str:
        return ctx.labels.click(
            f"https://{self._host(ctx)}/tr/cl/{ctx.b64(f'bcl{index}', 140)}", None
        )

    def unsubscribe(self, ctx: Ctx) -> str:
        return ctx.labels.neg_link(f"https://{self._host(ctx)}/tr/un/{ctx.b64('bun', 120)}")


class CustomerIO(ESP):
    name = "customerio"

    def pixel(self, ctx: Ctx) -> str:
        token = _b64json({"email_id": ctx.b64("cio", 30), "href": None}).rstrip("=")
        url = f"https://track.customer.io/e/o/{token}"
        return _pixel_tag(ctx.labels.pixel(url), style="height:1px;width:1px;border:0")

    def wrap(self, ctx: Ctx, target: str, index: int) -> str:
        payload = {
            "email_id": ctx.b64("cio", 30),
            "href": target,
            "internal": ctx.hex("cint", 10),
            "link_id": index,
        }
        token = _b64json(payload).rstrip("=")
        url = f"https://e.{ctx.brand.domain}/e/c/{token}/{ctx.hex(f'csig{index}', 40)}"
        return ctx.labels.click(url, target)


class AmazonSES(ESP):
    name = "ses"
    tracks_text = False

    def _host(self, ctx: Ctx) -> str:
        return f"{ctx.hex('sesid', 8, False)}.r.us-east-1.awstrack.me"

    def pixel(self, ctx: Ctx) -> str:
        url = (
            f"https://{self._host(ctx)}/I0/0100018f{ctx.hex('sesmsg', 40)}-000000/"
            f"{ctx.b64('sessig', 28)}=383"
        )
        return _pixel_tag(ctx.labels.pixel(url))

    def wrap(self, ctx: Ctx, target: str, index: int) -> str:
        url = (
            f"https://{self._host(ctx)}/L0/{quote(target, safe='')}/1/0100018f"
            f"{ctx.hex('sesmsg', 40)}-000000/{ctx.b64(f'sesl{index}', 28)}=383"
        )
        return ctx.labels.click(url, target)


class Mailjet(ESP):
    name = "mailjet"

    def _host(self, ctx: Ctx) -> str:
        return f"{ctx.hex('mj', 4, False)}.mjt.lu"

    def pixel(self, ctx: Ctx) -> str:
        url = f"https://{self._host(ctx)}/oo/{ctx.b64('mjo', 40)}/{ctx.hex('mjo2', 8)}/e.gif"
        return _pixel_tag(
            ctx.labels.pixel(url), style="height:1px;width:1px;border:0;display:block"
        )

    def wrap(self, ctx: Ctx, target: str, index: int) -> str:
        url = (
            f"https://{self._host(ctx)}/lnk/{ctx.b64(f'mjl{index}', 60)}/{ctx.hex('mjl', 6)}/1/"
            f"{ctx.b64(f'mjz{index}', 22)}"
        )
        return ctx.labels.click(url, None)


class ConstantContact(ESP):
    name = "constantcontact"

    def pixel(self, ctx: Ctx) -> str:
        q = urlencode(
            {
                "ca": ctx.hex("ccca", 32),
                "a": ctx.digits("cca", 13),
                "c": ctx.hex("ccc", 32),
                "ch": ctx.hex("ccch", 32, False),
            }
        )
        return _pixel_tag(ctx.labels.pixel(f"https://r20.rs6.net/on.jsp?{q}"))

    def wrap(self, ctx: Ctx, target: str, index: int) -> str:
        q = urlencode(
            {
                "f": ctx.b64(f"ccf{index}", 120),
                "c": ctx.b64("ccc", 80),
                "ch": ctx.hex("ccch", 32, False),
            }
        )
        return ctx.labels.click(f"https://r20.rs6.net/tn.jsp?{q}", None)


class CampaignMonitor(ESP):
    name = "campaignmonitor"

    def _host(self, ctx: Ctx) -> str:
        return f"{ctx.brand.domain.split('.')[0]}.cmail20.com"

    def pixel(self, ctx: Ctx) -> str:
        url = f"https://{self._host(ctx)}/t/d-o-{ctx.hex('cmo', 7)}-{ctx.hex('cmr', 8)}/o.gif"
        return _pixel_tag(ctx.labels.pixel(url), style="width:1px;height:1px;border:0")

    def wrap(self, ctx: Ctx, target: str, index: int) -> str:
        url = (
            f"https://{self._host(ctx)}/t/"
            f"d-l-{ctx.hex('cml', 7)}-{ctx.hex('cmr', 8)}-{chr(97 + index % 26)}/"
        )
        return ctx.labels.click(url, None)


class Mailgun(ESP):
    name = "mailgun"

    def _host(self, ctx: Ctx) -> str:
        return f"email.mg.{ctx.brand.domain}"

    def _token(self, ctx: Ctx, purpose: str) -> str:
        blob = json.dumps({"r": ctx.address, "p": purpose, "t": ctx.hex(purpose, 12)}).encode()
        return base64.urlsafe_b64encode(zlib.compress(blob)).decode().rstrip("=")

    def pixel(self, ctx: Ctx) -> str:
        url = f"https://{self._host(ctx)}/o/{self._token(ctx, 'open')}"
        return _pixel_tag(ctx.labels.pixel(url), style="height:1px !important;width:1px !important")

    def wrap(self, ctx: Ctx, target: str, index: int) -> str:
        return ctx.labels.click(
            f"https://{self._host(ctx)}/c/{self._token(ctx, f'c{index}')}", None
        )


class Postmark(ESP):
    name = "postmark"
    tracks_text = False

    def pixel(self, ctx: Ctx) -> str:
        url = f"https://ea.pstmrk.it/open?m=v3_1.{ctx.b64('pm', 22)}.{ctx.b64('pm2', 22)}"
        return _pixel_tag(ctx.labels.pixel(url), style="width:1px;height:1px")

    def wrap(self, ctx: Ctx, target: str, index: int) -> str:
        rest = quote(target.split("://", 1)[1], safe="")
        url = (
            f"https://click.pstmrk.it/3s/{rest}/{ctx.b64(f'pml{index}', 8)}/"
            f"{ctx.b64(f'pmm{index}', 42)}"
        )
        return ctx.labels.click(url, None)


class InHouse(ESP):
    """A sender's own tracker: a hidden pixel and ``/r?url=`` redirects on its news host."""

    name = "inhouse"

    def pixel(self, ctx: Ctx) -> str:
        url = f"https://news.{ctx.brand.domain}/track/open/{ctx.b64('ih', 32)}.gif"
        return (
            f'<div style="display:none;max-height:0;overflow:hidden">'
            f'<img src="{escape(ctx.labels.pixel(url))}" alt=""></div>'
        )

    def wrap(self, ctx: Ctx, target: str, index: int) -> str:
        url = (
            f"https://news.{ctx.brand.domain}/r?url={quote(target, safe='')}&m={ctx.b64('ihm', 24)}"
        )
        return ctx.labels.click(url, target)


class AdTech(ESP):
    """A newsletter with ads: impression pixels and ad images keyed by the address' MD5."""

    name = "adtech"

    def pixel(self, ctx: Ctx) -> str:
        md5 = hashlib.md5(ctx.address.lower().encode(), usedforsecurity=False).hexdigest()
        imp = (
            f"https://li.{ctx.brand.domain}/imp?s={ctx.digits('lis', 6)}&li=daily&e={md5}&"
            f"p={ctx.digits('lip', 6)}&stpe=default"
        )
        ad = (
            f"https://li.{ctx.brand.domain}/imp?s={ctx.digits('lis2', 6)}&li=daily&m={md5}&"
            f"p={ctx.digits('lip2', 6)}"
        )
        click = (
            f"https://li.{ctx.brand.domain}/click?s={ctx.digits('lis2', 6)}&li=daily&m={md5}&"
            f"p={ctx.digits('lip2', 6)}"
        )
        ctx.labels.pixel(imp)
        ctx.labels.pixel(ad)
        ctx.labels.click(click, None)
        return (
            f'<table role="presentation" width="100%"><tr><td align="center">'
            f'<a href="{escape(click)}"><img src="{escape(ad)}" width="300" height="250" '
            'alt="Advertisement"></a>'
            f"</td></tr></table>" + _pixel_tag(imp)
        )


class Unknown(ESP):
    """A service nobody has tabled: only the comparison of copies can find its pixel."""

    name = "unknown"

    def pixel(self, ctx: Ctx) -> str:
        url = f"https://mx.{ctx.brand.domain}/v/{ctx.b64('unk', 22)}"
        return f'<img src="{escape(ctx.labels.pixel(url))}" alt="">'

    def wrap(self, ctx: Ctx, target: str, index: int) -> str:
        if index:
            return ctx.labels.neg_link(target)
        # An opaque redirect on a neutral host: out of reach of every heuristic here.
        url = f"https://go.{ctx.brand.domain}/{ctx.b64(f'unkl{index}', 12)}"
        return ctx.labels.click(url, None)


ESPS: dict[str, ESP] = {
    e.name: e
    for e in (
        Mailchimp(),
        MailchimpEcommerce(),
        SendGrid(),
        Mandrill(),
        Substack(),
        Klaviyo(),
        HubSpot(),
        HubSpotDirect(),
        ConvertKit(),
        Brevo(),
        CustomerIO(),
        AmazonSES(),
        Mailjet(),
        ConstantContact(),
        CampaignMonitor(),
        Mailgun(),
        Postmark(),
        InHouse(),
        AdTech(),
        Unknown(),
    )
}


# -- content ---------------------------------------------------------------------------


def cdn_image(ctx: Ctx, name: str, width: int) -> str:
    brand = ctx.brand
    slug = brand.domain.split(".")[0]
    if brand.cdn == "shopify":
        a, b = ctx.digits("shop1", 4), ctx.digits("shop2", 4)
        return (
            f"https://cdn.shopify.com/s/files/1/{a}/{b}/products/{name}.jpg?"
            f"v={ctx.digits(name, 10)}&width={width * 2}"
        )
    if brand.cdn == "contentful":
        space = (
            ctx.b64("space", 12, per_recipient=False).lower().replace("-", "a").replace("_", "b")
        )
        asset = ctx.b64(f"asset-{name}", 22, per_recipient=False)
        return (
            f"https://images.ctfassets.net/{space}/{asset}/{ctx.hex(name, 32, False)}/{name}.jpg?"
            f"w={width * 2}&fm=webp"
        )
    if brand.cdn == "cloudinary":
        return (
            f"https://res.cloudinary.com/{slug}/image/upload/c_fill,w_{width * 2}/"
            f"v{ctx.digits(name, 10)}/{name}.jpg"
        )
    if brand.cdn == "imgix":
        return f"https://{slug}.imgix.net/email/{name}.jpg?auto=format,compress&w={width * 2}&dpr=2"
    if brand.cdn == "substack":
        return "https://substackcdn.com/image/fetch/w_1200,c_limit,f_auto,q_auto:good/" + quote(
            "https://substack-post-media.s3.amazonaws.com/public/images/"
            f"{ctx.hex(name, 36, False)}_1600x900.jpeg",
            safe="",
        )
    return f"https://static.{brand.domain}/email/2024/{name}.jpg"


def negatives_head(ctx: Ctx, parts: list[str]) -> None:
    brand = ctx.brand
    logo = ctx.labels.neg_image(f"https://static.{brand.domain}/email/logo@2x.png")
    view = ctx.labels.neg_link(f"https://{brand.domain}/email/view/{ctx.b64('view', 24)}")
    parts.append(
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0">'
        '<tr><td style="padding:12px 24px;font-family:Helvetica,Arial,sans-serif;font-size:12px;'
        'color:#6b7280" align="right">'
        f'<a href="{escape(view)}" style="color:#6b7280">View in browser</a></td></tr>'
        '<tr><td align="center" style="padding:24px"><a '
        f'href="{escape(ctx.labels.neg_link("https://" + brand.domain + "/"))}">'
        f'<img src="{escape(logo)}" width="180" height="48" alt="{escape(brand.name)}" '
        'style="display:block;border:0"></a></td></tr></table>'
    )
    spacer = ctx.labels.neg_image(f"https://static.{brand.domain}/email/spacer.gif")
    parts.append(f'<img src="{escape(spacer)}" width="1" height="1" alt="" style="display:block">')


def product_block(ctx: Ctx, esp: ESP, name: str, index: int, personal: bool) -> str:
    brand = ctx.brand
    target = (
        f"https://{brand.domain}/products/{name}?utm_source=newsletter&utm_medium=email&"
        f"utm_campaign={ctx.campaign}"
    )
    href = esp.wrap(ctx, target, index)
    img = ctx.labels.neg_image(cdn_image(ctx, name, 280))
    mobile = ""
    if index == 1:
        # Responsive mail: a mobile variant hidden on desktop.
        mob = ctx.labels.neg_image(cdn_image(ctx, name + "-mobile", 320))
        mobile = (
            '<div class="mobile-only" style="display:none;max-height:0;overflow:hidden;'
            'mso-hide:all">'
            f'<img src="{escape(mob)}" width="320" alt="{escape(name)}" style="display:block"></'
            "div>"
        )
    price = 19 + (sum(map(ord, name)) % 180)
    label = "Picked for you" if personal else "New in"
    return (
        '<tr><td class="product" style="padding:16px 24px;border-bottom:1px solid #e5e7eb">'
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0"><tr>'
        f'<td width="280" valign="top"><a href="{escape(href)}" target="_blank">'
        f'<img src="{escape(img)}" width="280" height="280" '
        f'alt="{escape(name.replace("-", " ").title())}" '
        'style="display:block;width:100%;max-width:280px;height:auto;border:0;border-radius:8px">'
        "</a>"
        f"{mobile}</td>"
        '<td valign="top" style="padding-left:16px;font-family:Georgia,serif;font-size:16px;'
        'line-height:24px;color:#111827">'
        '<p style="margin:0 0 4px;font-size:12px;letter-spacing:1px;text-transform:uppercase;'
        f'color:#9ca3af">{label}</p>'
        f'<h3 style="margin:0 0 8px;font-size:20px">{escape(name.replace("-", " ").title())}</h3>'
        f'<p style="margin:0 0 12px">Made to last, designed to be repaired. From ${price}.</p>'
        f'<a href="{escape(href)}" style="display:inline-block;padding:10px 18px;'
        "background:#111827;color:#ffffff;"
        "text-decoration:none;border-radius:6px;font-family:Helvetica,Arial,sans-serif;"
        'font-size:14px">Shop now</a>'
        "</td></tr></table></td></tr>"
    )


def article_block(ctx: Ctx, esp: ESP, slug: str, index: int) -> str:
    brand = ctx.brand
    target = f"https://{brand.domain}/blog/{slug}"
    href = esp.wrap(ctx, target, index)
    img = ctx.labels.neg_image(cdn_image(ctx, slug, 600))
    return (
        '<tr><td style="padding:24px;font-family:Georgia,serif;font-size:17px;line-height:27px;'
        'color:#1f2937">'
        f'<a href="{escape(href)}"><img src="{escape(img)}" width="552" alt="" '
        'style="display:block;width:100%;height:auto;border:0"></a>'
        f'<h2 style="margin:16px 0 8px;font-size:24px;line-height:30px"><a href="{escape(href)}" '
        'style="color:#111827;text-decoration:none">'
        f"{escape(slug.replace('-', ' ').capitalize())}</a></h2>"
        '<p style="margin:0 0 12px">Lorem ipsum dolor sit amet, consectetur adipiscing elit. '
        "Integer posuere erat a ante "
        "venenatis dapibus posuere velit aliquet. Cras mattis consectetur purus sit amet "
        "fermentum. Donec sed odio dui. "
        "Maecenas faucibus mollis interdum. Vestibulum id ligula porta felis euismod semper.</p>"
        f'<a href="{escape(href)}" style="color:#2563eb">Read more &rarr;</a></td></tr>'
    )


def footer(ctx: Ctx, esp: ESP) -> str:
    brand = ctx.brand
    slug = brand.domain.split(".")[0]
    unsub = esp.unsubscribe(ctx)
    prefs = ctx.labels.neg_link(
        f"https://{brand.domain}/account/email-preferences?uid={ctx.b64('prefs', 22)}"
    )
    share_fb = ctx.labels.neg_link(
        "https://www.facebook.com/sharer/sharer.php?u="
        + quote(f"https://{brand.domain}/blog/{ctx.campaign}", safe="")
    )
    share_x = ctx.labels.neg_link(
        "https://twitter.com/intent/tweet?"
        + urlencode({"url": f"https://{brand.domain}/blog/{ctx.campaign}", "text": brand.name})
    )
    icons = []
    for network, url in (
        ("instagram", f"https://www.instagram.com/{slug}/"),
        ("facebook", f"https://www.facebook.com/{slug}"),
        ("linkedin", f"https://www.linkedin.com/company/{slug}"),
    ):
        icon = ctx.labels.neg_image(f"https://static.{brand.domain}/email/icons/{network}-32.png")
        icons.append(
            f'<a href="{escape(ctx.labels.neg_link(url))}" style="display:inline-block;margin:0 '
            '6px">'
            f'<img src="{escape(icon)}" width="32" height="32" alt="{network}" style="border:0"></'
            "a>"
        )
    divider = ctx.labels.neg_image(f"https://static.{brand.domain}/email/divider.png")
    app = ctx.labels.neg_link(f"https://apps.apple.com/us/app/{slug}/id{ctx.digits('app', 10)}")
    login = ctx.labels.neg_link(
        f"https://{brand.domain}/login?next="
        + quote(f"https://{brand.domain}/account/orders", safe="")
    )
    return (
        f'<tr><td align="center" style="padding:8px 0"><img src="{escape(divider)}" width="600" '
        'height="1" alt="" style="display:block"></td></tr>'
        '<tr><td align="center" style="padding:24px;font-family:Helvetica,Arial,sans-serif;'
        'font-size:12px;line-height:18px;color:#6b7280">'
        + "".join(icons)
        + f'<p style="margin:16px 0 4px">Share: <a href="{escape(share_fb)}">Facebook</a> '
        f'&middot; <a href="{escape(share_x)}">X</a>'
        f' &middot; <a href="{escape(app)}">Get the app</a> &middot; <a href="{escape(login)}">'
        "Your orders</a></p>"
        f'<p style="margin:4px 0">{escape(brand.name)}, 1 Harbour Street, Springfield. You '
        f"receive this because you signed up at {brand.domain}.</p>"
        f'<p style="margin:4px 0"><a href="{escape(unsub)}" style="color:#6b7280">Unsubscribe</a> '
        "&middot; "
        f'<a href="{escape(prefs)}" style="color:#6b7280">Update your preferences</a> &middot; '
        f'<a href="mailto:hello@{brand.domain}" style="color:#6b7280">Contact us</a></p></td></tr>'
    )


def newsletter_html(ctx: Ctx, esp: ESP, size: str) -> str:
    rng = ctx.rng
    parts = [
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(ctx.brand.name)}</title>"
        "<style>@media only screen and (max-width:600px){.product td{display:block!important;"
        "width:100%!important}"
        ".mobile-only{display:block!important;max-height:none!important}}</style></head>"
        '<body style="margin:0;padding:0;background:#f3f4f6">'
        '<div style="display:none;max-height:0;overflow:hidden;mso-hide:all">'
        "New arrivals, stories from the workshop and a little something for you.&zwnj;&nbsp;&zwnj;"
        "&nbsp;</div>"
        '<center><table role="presentation" width="600" cellpadding="0" cellspacing="0" '
        'border="0" '
        'style="background:#ffffff;margin:24px auto" '
        f'background="{escape(cdn_image(ctx, "paper-texture", 600))}">'
        "<tr><td>"
    ]
    negatives_head(ctx, parts)
    parts.append('<table role="presentation" width="100%" cellpadding="0" cellspacing="0">')
    hero_img = ctx.labels.neg_image(cdn_image(ctx, "hero-" + ctx.campaign, 600))
    hero_href = esp.wrap(
        ctx,
        f"https://{ctx.brand.domain}/collections/{ctx.campaign}?utm_source=newsletter&"
        "utm_medium=email",
        0,
    )
    parts.append(
        f"<tr><td style=\"background-image:url('{escape(cdn_image(ctx, 'hero-bg', 600))}');"
        'background-size:cover">'
        f'<a href="{escape(hero_href)}"><img src="{escape(hero_img)}" width="600" height="320" '
        f'alt="{escape(ctx.campaign)}" '
        'style="display:block;width:100%;height:auto;border:0"></a></td></tr>'
    )
    count = 3 if size == "small" else 8
    if ctx.brand.kind == "news":
        for i, slug in enumerate(rng.sample(ARTICLES, min(count, len(ARTICLES)))):
            parts.append(article_block(ctx, esp, slug, i + 1))
    else:
        for i, name in enumerate(rng.sample(PRODUCTS, count)):
            parts.append(product_block(ctx, esp, name, i + 1, personal=False))
        # Personalised picks: different products per recipient, plain product names.
        pick_rng = random.Random(f"{ctx.seed}|{ctx.campaign}|{ctx.address}")  # noqa: S311
        for j, name in enumerate(pick_rng.sample(PRODUCTS, 2)):
            parts.append(product_block(ctx, esp, name, 20 + j, personal=True))
    parts.append(extras_block(ctx, esp))
    parts.append(footer(ctx, esp))
    parts.append("</table>")
    pixel = esp.pixel(ctx)
    if pixel:
        parts.append(pixel)
    parts.append("</td></tr></table></center>")
    parts.append("</body></html>")
    return "".join(parts)


def extras_block(ctx: Ctx, esp: ESP) -> str:
    """Things real newsletters carry that look like tracking and mostly are not."""
    brand = ctx.brand
    rng = ctx.rng  # campaign-level: every copy gets the same extras
    out = [
        '<tr><td style="padding:24px;font-family:Helvetica,Arial,sans-serif;font-size:15px;'
        'line-height:22px">'
    ]
    out.append(f"<p>{escape(ctx.charset_sample)}</p>")
    # A dark-mode logo, hidden until the client switches theme.
    dark = ctx.labels.neg_image(f"https://static.{brand.domain}/email/logo-dark@2x.png")
    out.append(
        f'<img class="dark-only" src="{escape(dark)}" width="180" height="48" alt="" '
        'style="display:none;max-height:0">'
    )
    if rng.random() < 0.4:
        # A live countdown: the same token for every recipient of the campaign.
        timer = ctx.labels.neg_image(
            "https://gen.sendtric.com/countdown/"
            f"{ctx.b64('timer', 10, per_recipient=False).lower()}"
        )
        out.append(
            f'<p><img src="{escape(timer)}" width="560" height="96" alt="Ends soon" '
            'style="display:block"></p>'
        )
    if rng.random() < 0.35:
        # A tiny spacer from a CDN with a cache-busting version, no token.
        spacer = ctx.labels.neg_image(
            f"https://cdn.shopify.com/s/files/1/{ctx.digits('shop1', 4)}/t/3/assets/clear.gif?"
            f"v={ctx.digits('clear', 10)}"
        )
        out.append(f'<img src="{escape(spacer)}" width="1" height="2" alt="">')
    if rng.random() < 0.35:
        # An asset-pipeline spacer: a content digest in the file name.
        digest = ctx.hex("asset-spacer", 32, per_recipient=False)
        spacer = ctx.labels.neg_image(f"https://static.{brand.domain}/assets/spacer-{digest}.gif")
        out.append(f'<img src="{escape(spacer)}" width="1" height="1" alt="" border="0">')
    if brand.kind == "retail" and rng.random() < 0.4:
        partner = "https://partner-outdoors.example/collections/tents"
        affiliate = "https://www.awin1.com/cread.php?" + urlencode(
            {
                "awinmid": ctx.digits("awm", 5),
                "awinaffid": ctx.digits("awa", 6),
                "clickref": ctx.campaign,
                "ued": partner,
            }
        )
        out.append(
            f'<p>From our partners: <a href="{escape(ctx.labels.click(affiliate, partner))}">'
            "tents for the season</a></p>"
        )
    if rng.random() < 0.3:
        short = ctx.labels.neg_link(f"https://bit.ly/{ctx.b64('bitly', 7, per_recipient=False)}")
        out.append(f'<p>Share this: <a href="{escape(short)}">{escape(short)}</a></p>')
    if brand.kind == "saas":
        sso = ctx.labels.neg_link(
            "https://accounts.idp-login.example/signin?"
            + urlencode(
                {
                    "continue": f"https://app.{brand.domain}/dashboard",
                    "service": brand.domain.split(".")[0],
                }
            )
        )
        calendar = ctx.labels.neg_link(
            "https://calendar.google.com/calendar/render?"
            + urlencode(
                {
                    "action": "TEMPLATE",
                    "text": f"{brand.name} webinar",
                    "details": "Join at https://zoom.us/j/81234567890",
                    "location": "https://zoom.us/j/81234567890",
                }
            )
        )
        join = ctx.labels.neg_link(f"https://zoom.us/w/81234567890?tk={ctx.b64('zoom', 43)}")
        out.append(
            f'<p><a href="{escape(sso)}">Sign in to your dashboard</a> &middot; '
            f'<a href="{escape(calendar)}">Add the webinar to your calendar</a> &middot; '
            f'<a href="{escape(join)}">Join the webinar</a></p>'
        )
    if rng.random() < 0.3:
        referral = ctx.labels.neg_link(f"https://{brand.domain}/invite?ref={ctx.b64('ref', 10)}")
        out.append(f'<p>Give 10%, get 10%: <a href="{escape(referral)}">your referral link</a></p>')
    if brand.kind == "news" and rng.random() < 0.5:
        # A personalised image: the URL itself identifies the reader.
        recap = ctx.labels.pixel(f"https://img.{brand.domain}/recap/{ctx.b64('recap', 16)}.png")
        out.append(
            f'<p><img src="{escape(recap)}" width="552" height="300" alt="Your year in reading"></'
            "p>"
        )
    if esp.name in ("sendgrid", "mailchimp", "campaignmonitor", "mailjet") and rng.random() < 0.6:
        # Outlook gets a VML button inside a conditional comment; others the <a>.
        target = f"https://{brand.domain}/sale?utm_source=newsletter&utm_medium=email"
        href = esp.wrap(ctx, target, 40)
        out.append(
            "<!--[if mso]>"
            f'<v:roundrect xmlns:v="urn:schemas-microsoft-com:vml" href="{escape(href)}" '
            'style="height:44px;width:220px" '
            'arcsize="10%" fillcolor="#111827"><center style="color:#ffffff">Shop the sale</'
            "center></v:roundrect>"
            "<![endif]--><!--[if !mso]><!-->"
            f'<a href="{escape(href)}" style="background:#111827;color:#fff;padding:12px 24px">'
            "Shop the sale</a>"
            "<!--<![endif]-->"
        )
    out.append("</td></tr>")
    return "".join(out)


def text_version(ctx: Ctx, esp: ESP, html_links: list[str]) -> str:
    lines = [f"{ctx.brand.name}", "", f"Hi {ctx.recipient[0].split()[0]},", ""]
    for url in html_links[:6]:
        lines.append(f"Read more: {url}")
    lines.append("")
    lines.append("Unsubscribe: " + esp.unsubscribe(ctx))
    return "\n".join(lines) + "\n"


def transactional_html(ctx: Ctx, esp: ESP, what: str) -> str:
    brand = ctx.brand
    order = ctx.digits("order", 6, per_recipient=True)
    if what == "reset":
        link = ctx.labels.neg_link(
            f"https://{brand.domain}/account/reset?token={ctx.hex('reset', 64)}"
        )
        body = (
            f"<p>Hi {escape(ctx.recipient[0].split()[0])},</p><p>Someone asked to reset the "
            "password of your account. "
            f'<a href="{escape(link)}" style="color:#2563eb">Reset your password</a>. The link '
            "works for one hour.</p>"
        )
    else:
        view = ctx.labels.neg_link(
            f"https://{brand.domain}/orders/{order}?key={ctx.b64('okey', 32)}"
        )
        track = ctx.labels.neg_link(
            f"https://track.parcelpost.example/?tracknum=1Z{ctx.hex('trk', 16).upper()}"
        )
        # A payment page that returns to the shop: carries a URL, counts no click.
        pay = ctx.labels.neg_link(
            f"https://pay.checkout-provider.example/session/{ctx.b64('pay', 24)}?"
            + urlencode({"return_url": f"https://{brand.domain}/orders/{order}/thanks"})
        )
        items = []
        for name in ctx.rng.sample(PRODUCTS, 2):
            img = ctx.labels.neg_image(cdn_image(ctx, name, 96))
            items.append(
                f'<tr><td width="96"><img src="{escape(img)}" width="96" height="96" '
                f'alt="{escape(name)}" style="border-radius:4px"></td>'
                f'<td style="padding-left:12px">{escape(name.replace("-", " ").title())} &times; '
                "1</td></tr>"
            )
        body = (
            f"<p>Thanks for your order #{order}!</p>"
            f'<table role="presentation" cellpadding="0" cellspacing="0">{"".join(items)}</table>'
            f'<p><a href="{escape(view)}">View your order</a> &middot; <a href="{escape(track)}">'
            "Track your package</a>"
            f' &middot; <a href="{escape(pay)}">Complete payment</a></p>'
        )
    logo = ctx.labels.neg_image(f"https://static.{brand.domain}/email/logo@2x.png")
    pixel = esp.pixel(ctx) if esp.name in ("sendgrid", "postmark", "ses") else ""
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head><body '
        'style="font-family:Helvetica,Arial,sans-serif">'
        f'<img src="{escape(logo)}" width="180" height="48" alt="{escape(brand.name)}">'
        f'{body}<p style="color:#6b7280;font-size:12px">{escape(brand.name)} &middot; 1 Harbour '
        f"Street</p>{pixel}</body></html>"
    )


def personal_mail(ctx: Ctx, kind: str) -> tuple[str, str]:
    """A person's mail: Mailtrack-tracked, a GitHub notification, a forward via Safe Links."""
    if kind == "mailtrack":
        pixel = ctx.labels.pixel(
            f"https://mailtrack.io/trace/mail/{ctx.hex('mt', 40)}.png?u={ctx.digits('mtu', 7)}"
        )
        target = "https://docs.example.com/proposal-v3.pdf"
        link = ctx.labels.click(
            "https://mailtrack.io/trace/link/"
            + ctx.hex("mtl", 40)
            + "?"
            + urlencode(
                {"url": target, "userId": ctx.digits("mtu", 7), "signature": ctx.hex("mts", 16)}
            ),
            target,
        )
        html = (
            f'<div dir="ltr">Hi {escape(ctx.recipient[0].split()[0])},<br><br>Here is the '
            "proposal: "
            f'<a href="{escape(link)}">proposal-v3.pdf</a><br><br>Best,<br>Sam</div>'
            '<img width="0" height="0" class="mailtrack-img" alt="" style="display:flex" '
            f'src="{escape(pixel)}">'
        )
        return html, "Proposal, v3"
    if kind == "github":
        beacon = ctx.labels.pixel(
            f"https://github.com/notifications/beacon/{ctx.b64('gh', 44)}.gif"
        )
        issue = ctx.labels.neg_link(
            "https://github.com/example/widgets/issues/412#issuecomment-1880000000"
        )
        unsub = ctx.labels.neg_link(
            f"https://github.com/notifications/unsubscribe-auth/{ctx.b64('ghu', 48).upper()}"
        )
        html = (
            "<p>@sam commented on this issue.</p><p>— Reply to this email directly, <a "
            f'href="{escape(issue)}">view it on GitHub</a>, '
            f'or <a href="{escape(unsub)}">unsubscribe</a>.</p>'
            f'<img src="{escape(beacon)}" height="1" width="1" alt="">'
        )
        return html, "Re: [example/widgets] Crash on empty input (#412)"
    target = "https://harborcoffee.example/events/latte-art?utm_source=partner"
    wrapped = "https://nam12.safelinks.protection.outlook.com/?" + urlencode(
        {
            "url": target,
            "data": "05|02|" + ctx.b64("sl", 60),
            "sdata": ctx.b64("sls", 44),
            "reserved": "0",
        }
    )
    ctx.labels.click(wrapped, target)
    plain = ctx.labels.neg_link("https://calendar.example.com/event/2024-latte-art")
    html = (
        f'<div>FYI, see <a href="{escape(wrapped)}">the event page</a> and the '
        f'<a href="{escape(plain)}">calendar entry</a>.</div>'
    )
    return html, "Fwd: Latte art evening"


# -- assembly --------------------------------------------------------------------------


def _links_in(html: str) -> list[str]:
    """The hrefs the generator wrote (it knows its own quoting)."""
    out: list[str] = []
    at = 0
    while True:
        start = html.find(' href="', at)
        if start == -1:
            return out
        end = html.find('"', start + 7)
        url = unescape(html[start + 7 : end])
        if url.startswith("http") and url not in out:
            out.append(url)
        at = end


def build_message(
    ctx: Ctx,
    esp: ESP,
    html: str,
    subject: str,
    sender: str,
    text: str | None,
    when: int,
    minute: int,
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = f"{ctx.recipient[0]} <{ctx.recipient[1]}>"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(_date(minute))
    msg["Message-ID"] = f"<{ctx.campaign}.{ctx.hex('mid', 16)}@{ctx.brand.domain}>"
    msg["MIME-Version"] = "1.0"
    for name, value in esp.headers(ctx).items():
        msg[name] = value
    unsub = [
        u
        for u in ctx.labels.negative_links
        if "unsub" in u or "disable_email" in u or "/tr/un/" in u
    ]
    if unsub:
        msg["List-Unsubscribe"] = f"<{unsub[0]}>, <mailto:unsubscribe@{ctx.brand.domain}>"
    if text is not None:
        msg.set_content(text, cte="quoted-printable")
        cte = "quoted-printable" if when % 3 else "base64"
        msg.add_alternative(html, subtype="html", cte=cte, charset=ctx.charset)
    else:
        msg.set_content(html, subtype="html", cte="quoted-printable")
    # The email package picks random boundaries; the corpus must not change between runs.
    for number, part in enumerate(msg.walk()):
        if part.is_multipart():
            part.set_boundary(f"=={ctx.hex(f'boundary{number}', 24)}==")
    return msg


def _date(offset: int) -> Any:
    from datetime import datetime, timedelta

    return datetime(2024, 5, 1, tzinfo=UTC) + timedelta(minutes=offset)


@dataclass
class Generated:
    message_id: str
    data: bytes
    labels: Labels
    name: str


def corpus(seed: int = 7, campaigns: int = 80, size: str = "typical") -> list[Generated]:
    """All messages with their labels (in memory; ``generate`` writes them)."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible corpus, not a secret
    out: list[Generated] = []
    counter = 0
    for n in range(campaigns):
        brand = BRANDS[n % len(BRANDS)]
        esp = ESPS.get(brand.esp, ESP())
        campaign = (
            f"{rng.choice(['spring', 'summer', 'autumn', 'winter', 'weekly', 'launch', 'digest'])}"
            f"-{n:03d}"
        )
        copies = rng.choice([1, 2, 2, 3, 3, 4])
        recipients = rng.sample(RECIPIENTS, copies)
        camp_seed = rng.randrange(1 << 30)
        kind = "newsletter"
        roll = rng.random()
        if roll < 0.12:
            kind = "transactional"
        elif roll < 0.20:
            kind = "personal"
        track_clicks = rng.random() > 0.15
        charset = rng.choice(["utf-8", "utf-8", "utf-8", "iso-8859-1", "windows-1252"])
        subject_base = rng.choice(
            [
                "New arrivals are here",
                "This week at {b}",
                "Your {b} digest",
                "A little something",
                "Last chance: {c}",
            ]
        ).format(b=brand.name, c=campaign)
        personal_kind = rng.choice(["mailtrack", "github", "safelinks"])
        for recipient in recipients:
            counter += 1
            labels = Labels()
            ctx = Ctx(
                seed,
                brand,
                campaign,
                recipient,
                labels,
                random.Random(camp_seed),  # noqa: S311
                track_clicks,
                charset,
            )
            sender = f"{brand.name} <news@{brand.domain}>"
            text = None
            if kind == "newsletter":
                html = newsletter_html(ctx, esp, size)
                subject = subject_base
                if esp.tracks_text and ctx.track_clicks:
                    links = [u for u in _links_in(html) if u in labels.clicks]
                    text = text_version(ctx, esp, links)
                else:
                    text = text_version(
                        ctx, esp, [u for u in _links_in(html) if u in labels.negative_links][2:5]
                    )
            elif kind == "transactional":
                what = rng.choice(["order", "reset"]) if recipient == recipients[0] else "reset"
                html = transactional_html(ctx, esp, what)
                subject = "Reset your password" if what == "reset" else f"Your {brand.name} order"
                sender = f"{brand.name} <no-reply@{brand.domain}>"
            else:
                html, subject = personal_mail(ctx, personal_kind)
                sender = (
                    "Sam Carter <sam.carter@example.com>"
                    if personal_kind != "github"
                    else "Sam <notifications@github.com>"
                )
            msg = build_message(
                ctx, esp, html, subject, sender, text, counter, n * 24 * 60 + 540 + 3 * counter % 50
            )
            policy = SMTP if counter % 2 else default
            data = msg.as_bytes(policy=policy)
            mid = str(msg["Message-ID"])
            out.append(
                Generated(
                    mid, data, labels, f"{counter:04d}-{brand.domain.split('.')[0]}-{campaign}.eml"
                )
            )
    return out


def generate(
    out: Path, *, seed: int = 7, campaigns: int = 80, fmt: str = "eml", size: str = "typical"
) -> Path:
    """Write the corpus under ``out`` and return the path of ``labels.json``."""
    out.mkdir(parents=True, exist_ok=True)
    items = corpus(seed, campaigns, size)
    if fmt == "eml":
        mail_dir = out / "mail"
        mail_dir.mkdir(exist_ok=True)
        for item in items:
            (mail_dir / item.name).write_bytes(item.data)
        location = "mail"
    elif fmt == "mbox":
        box = mailbox.mbox(str(out / "corpus.mbox"), create=True)
        for item in items:
            box.add(b"From corpus@trackpref.invalid Wed May  1 09:00:00 2024\n" + item.data)
        box.flush()
        box.close()
        location = "corpus.mbox"
    elif fmt == "maildir":
        md = mailbox.Maildir(str(out / "Maildir"), create=True)
        for item in items:
            md.add(item.data)
        md.close()
        location = "Maildir"
    else:
        raise ValueError(f"unknown format {fmt!r}: use eml, mbox or maildir")
    labels = {
        "seed": seed,
        "campaigns": campaigns,
        "format": fmt,
        "mail": location,
        "decisions": [
            "A 1x1 spacer from the sender's static host without any token is not a pixel.",
            "A hidden static image (responsive mobile/desktop variant) is not a pixel.",
            "Unsubscribe, preference, view-in-browser, password-reset and order links carry"
            " per-recipient tokens because they must; they are not click trackers.",
            "Share buttons and same-site login redirects hold a URL in their query; they are not "
            "click trackers.",
            "Microsoft Safe Links wrappers log clicks and are labelled click trackers.",
        ],
        "messages": {
            item.message_id: {"file": item.name, **item.labels.to_json()} for item in items
        },
    }
    path = out / "labels.json"
    path.write_text(json.dumps(labels, indent=1, sort_keys=True))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, required=True, help="directory to write the corpus into"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--campaigns", type=int, default=80)
    parser.add_argument("--format", choices=["eml", "mbox", "maildir"], default="eml")
    parser.add_argument("--size", choices=["typical", "small"], default="typical")
    args = parser.parse_args(argv)
    path = generate(
        args.out, seed=args.seed, campaigns=args.campaigns, fmt=args.format, size=args.size
    )
    data = json.loads(path.read_text())
    messages = data["messages"].values()
    print(
        f"{len(data['messages'])} messages, "
        f"{sum(len(m['pixels']) for m in messages)} pixels, "
        f"{sum(len(m['clicks']) for m in messages)} click trackers "
        f"-> {args.out / data['mail']} (labels: {path})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
