/*! trackpref.js: measurement that honors Do Not Track and Global Privacy Control.
 *
 * <script src="https://stats.example/trackpref.js" data-site="news.example" defer></script>
 *
 * Sends one page view per load (data-auto="false" turns that off) and
 * trackpref.event(name, props) for custom events, with navigator.sendBeacon.
 * An identifier is created and sent only when the person allows tracking
 * (DNT: 0, or an exception they granted); under do-not-track (DNT: 1 or
 * Global Privacy Control) none is sent, and any stored one is deleted.
 * Only the page's origin and path and the referrer's origin leave the page.
 * No dependencies, no cookies.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !window.JSON) return;
  var base = new URL(script.src, location.href);
  var endpoint = new URL("/api/collect", base).href;
  var site = script.getAttribute("data-site") || location.hostname;
  var nav = navigator;
  var gpc = nav.globalPrivacyControl === true;
  var raw = nav.doNotTrack !== undefined ? nav.doNotTrack : window.doNotTrack;
  var dnt = raw === "1" || raw === "yes" ? "1" : raw === "0" || raw === "no" ? "0" : null;
  var KEY = "trackpref.id";
  var guess = gpc || dnt === "1" ? "do-not-track" : dnt === "0" ? "allow" : "unset";

  function store() {
    try { return window.localStorage; } catch (e) { return null; }
  }
  function randomId() {
    var bytes = new Uint8Array(16), out = "";
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    for (var i = 0; i < bytes.length; i++) out += (bytes[i] + 256).toString(16).slice(1);
    return out;
  }
  function idFor(preference) {
    var s = store();
    if (!s) return null;
    if (preference !== "allow") { s.removeItem(KEY); return null; }
    var id = s.getItem(KEY);
    if (!id || !/^[A-Za-z0-9_-]{16,64}$/.test(id)) { id = randomId(); s.setItem(KEY, id); }
    return id;
  }
  // Exceptions are granted to the service's own origin: only there can it be asked.
  var ready = base.origin === location.origin && window.fetch
    ? fetch(new URL("/api/preference", base).href, { credentials: "same-origin", cache: "no-store" })
        .then(function (r) { return r.json(); })
        .then(function (b) { return b.preference || guess; }, function () { return guess; })
    : Promise.resolve(guess);

  function send(type, props) {
    return ready.then(function (preference) {
      var ev = { site: site, type: type, url: location.origin + location.pathname, dnt: dnt, gpc: gpc };
      if (document.referrer) {
        try { ev.referrer = new URL(document.referrer).origin + "/"; } catch (e) { /* none */ }
      }
      if (props) ev.props = props;
      var id = idFor(preference);
      if (id) ev.id = id;
      var body = JSON.stringify(ev);
      if (nav.sendBeacon && nav.sendBeacon(endpoint, new Blob([body], { type: "text/plain" }))) {
        return true;
      }
      if (!window.fetch) return false;
      return fetch(endpoint, { method: "POST", body: body, keepalive: true, headers: { "content-type": "text/plain" } })
        .then(function (r) { return r.ok; }, function () { return false; });
    });
  }

  window.trackpref = {
    pageview: function () { return send("pageview"); },
    event: function (name, props) { return send(name, props); },
    preference: function () { return ready; },
    forget: function () { var s = store(); if (s) s.removeItem(KEY); }
  };
  if (script.getAttribute("data-auto") !== "false") send("pageview");
})();
