/* trackpref: the TPE user-granted exception API (W3C Note, 2019), for browsers
 * that lack it. Each call is checked by the site's server, which stores the
 * exception as a consent record; the next request to a covered target is then
 * treated as DNT:0. Errors reject with the DOMException names the Note uses. */
(function () {
  "use strict";
  // The endpoint sits beside this script, wherever the app is mounted.
  var script = document.currentScript;
  var endpoint = script && script.src
    ? new URL("exceptions", script.src).pathname
    : __TRACKPREF_ENDPOINT__;
  var dnt = __TRACKPREF_DNT__;            // effective value, exceptions applied
  var dntHeaderValue = __TRACKPREF_DNT_HEADER__;  // what the browser itself sends
  var nav = window.navigator;
  var proto = Object.getPrototypeOf(nav);

  function topSite() {
    try { return window.top.location.hostname; } catch (e) { /* cross-origin */ }
    var ao = window.location.ancestorOrigins;
    if (ao && ao.length) { return new URL(ao[ao.length - 1]).hostname; }
    return window.location.hostname;
  }

  function call(op, properties) {
    var data = properties === undefined || properties === null ? {} : properties;
    return fetch(endpoint, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ op: op, data: data, top: topSite() })
    }).then(function (response) {
      return response.json().then(function (answer) {
        if (!answer.ok) {
          var err = answer.error || {};
          throw new DOMException(err.message || "rejected", err.name || "SyntaxError");
        }
        if ("doNotTrack" in answer) {
          dnt = answer.doNotTrack === "0" ? "0" : dntHeaderValue;
        }
        return answer.result;
      });
    });
  }

  var api = {
    storeTrackingException: function (properties) { return call("store", properties); },
    removeTrackingException: function (properties) {
      return call("remove", properties).then(function () { return undefined; });
    },
    trackingExceptionExists: function (properties) { return call("exists", properties); }
  };
  Object.keys(api).forEach(function (name) {
    if (typeof nav[name] !== "function") {
      Object.defineProperty(proto, name, { value: api[name], configurable: true, writable: true });
    }
  });
  // navigator.doNotTrack: the DNT value that would be sent to this origin,
  // exceptions applied (TPE §4.3).
  Object.defineProperty(proto, "doNotTrack", {
    get: function () { return dnt; },
    configurable: true
  });
})();
