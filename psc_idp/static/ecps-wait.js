/* The e-CPS waiting page: long-poll the login's status, then go to the finish URL.
 *
 * No full-page polling: one request at a time to …/status?wait=20, which the server holds
 * until the phone answers (or 20 s pass). When the status is no longer "pending" the page
 * navigates to …/finish, which completes the login (or shows/sends the failure). Network
 * errors retry with a growing pause; an HTTP error (login gone) goes to …/finish at once, so
 * the server shows the right page. Without JavaScript the page offers a "Continue" link.
 */
(function () {
  "use strict";

  var WAIT_SECONDS = 20;
  var box = document.getElementById("ecps-wait");
  if (!box || !window.fetch) { return; }
  var statusUrl = box.getAttribute("data-status-url");
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

  function ask() {
    if (done) { return; }
    fetch(statusUrl + "?wait=" + WAIT_SECONDS, {
      credentials: "same-origin", cache: "no-store", headers: { "Accept": "application/json" }
    }).then(function (response) {
      if (!response.ok) { finish(); return null; }
      return response.json();
    }).then(function (body) {
      if (!body) { return; }
      failures = 0;
      if (body.status === "pending") {
        if (typeof body.expires_in === "number") { remaining = body.expires_in; }
        ask();
      } else {
        finish();
      }
    }).catch(function () {
      failures += 1;
      window.setTimeout(ask, Math.min(1000 * failures, 10000));
    });
  }

  window.setInterval(tick, 1000);
  ask();
})();
