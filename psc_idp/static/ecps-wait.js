/* The e-CPS waiting page: follow the login's status, then go to the finish URL.
 *
 * No full-page polling. First choice: Server-Sent Events (EventSource on …/events), where the
 * server pushes a "status" event when the phone answers; the stream ends after a minute and
 * EventSource reconnects by itself. Fallback, when EventSource is missing or the stream cannot
 * be opened: one long-poll at a time to …/status?wait=20, which the server holds until the
 * phone answers (or 20 s pass). When the status is no longer "pending" the page navigates to
 * …/finish, which completes the login (or shows/sends the failure). An HTTP error (login gone)
 * goes to …/finish at once, so the server shows the right page; network errors retry with a
 * growing pause. Without JavaScript the page offers a "Continue" link.
 *
 * When the server has no room to hold a wait (psc_idp/waits.py) the stream is refused (429 or
 * 503: EventSource closes, and the page long-polls). A long-poll is refused too (429 or 503
 * with Retry-After: the page then asks for the status without waiting, which needs no room,
 * after that many seconds) or answers at once with "retry_after" (the page asks again after
 * that many seconds): data-transport="short-poll".
 */
(function () {
  "use strict";

  var WAIT_SECONDS = 20;
  var MAX_STREAM_ERRORS = 3;
  var box = document.getElementById("ecps-wait");
  if (!box) { return; }
  var statusUrl = box.getAttribute("data-status-url");
  var eventsUrl = box.getAttribute("data-events-url");
  var finishUrl = box.getAttribute("data-finish-url");
  var remaining = parseInt(box.getAttribute("data-expires-in"), 10) || 0;
  var counter = document.getElementById("ecps-remaining");
  var failures = 0;
  var done = false;

  function finish() {
    if (done) { return; }
    done = true;
    window.location.assign(finishUrl);
  }

  function tick() {
    if (done) { return; }
    remaining = Math.max(remaining - 1, 0);
    if (counter) { counter.textContent = String(remaining); }
  }

  /* true when the login is decided (the page is leaving) */
  function apply(body) {
    if (body.status === "pending") {
      if (typeof body.expires_in === "number") { remaining = body.expires_in; }
      return false;
    }
    finish();
    return true;
  }

  function ask(wait) {
    if (done || !window.fetch) { return; }
    if (wait === undefined) { wait = WAIT_SECONDS; }
    if (wait > 0) { box.setAttribute("data-transport", "long-poll"); }
    fetch(statusUrl + "?wait=" + wait, {
      credentials: "same-origin", cache: "no-store", headers: { "Accept": "application/json" }
    }).then(function (response) {
      if (response.status === 429 || response.status === 503) {
        // no room to wait: later, the status without waiting (always answered)
        later(parseInt(response.headers.get("Retry-After"), 10), 0);
        return null;
      }
      if (!response.ok) { finish(); return null; }
      return response.json();
    }).then(function (body) {
      if (!body) { return; }
      failures = 0;
      if (apply(body)) { return; }
      if (typeof body.retry_after === "number") {
        later(body.retry_after, WAIT_SECONDS);
      } else {
        ask();
      }
    }).catch(function () {
      failures += 1;
      window.setTimeout(function () { ask(); }, Math.min(1000 * failures, 10000));
    });
  }

  /* the server had no room to hold the wait: ask again (waiting N s) after that many s */
  function later(seconds, wait) {
    box.setAttribute("data-transport", "short-poll");
    var delay = isFinite(seconds) && seconds > 0 ? Math.min(seconds, 60) : 2;
    window.setTimeout(function () { ask(wait); }, delay * 1000);
  }

  function listen() {
    var source = new window.EventSource(eventsUrl, { withCredentials: true });
    var streamErrors = 0;
    box.setAttribute("data-transport", "event-stream");
    source.addEventListener("status", function (event) {
      streamErrors = 0;
      var body;
      try { body = JSON.parse(event.data); } catch (e) { return; }
      if (apply(body)) { source.close(); }
    });
    source.addEventListener("end", function () { streamErrors = 0; });
    source.onerror = function () {
      if (done) { source.close(); return; }
      streamErrors += 1;
      if (source.readyState === window.EventSource.CLOSED) {
        // The server refused the stream (an HTTP error: the login is gone, or an error page):
        // one long-poll tells which, and goes to finish on an error.
        source.close();
        ask();
      } else if (streamErrors >= MAX_STREAM_ERRORS) {
        source.close();  // a proxy that breaks streams: long-poll instead
        ask();
      }
    };
  }

  window.setInterval(tick, 1000);
  if (window.EventSource && eventsUrl) { listen(); } else { ask(); }
})();
