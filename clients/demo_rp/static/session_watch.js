/* Demo relying party: notice within about a second that the provider ended this login
   (back-channel or front-channel logout) and show it without a reload. Polls /session-status. */
(function () {
  "use strict";
  var INTERVAL_MS = 1000;
  if (!document.getElementById("signed-in")) return;

  function show(state, message) {
    var template = document.getElementById(
      state === "logged-out" ? "logged-out-template" : "signed-out-template");
    var current = document.getElementById("login-content");
    if (!template || !current) return;
    var fresh = template.content.cloneNode(true);
    var detail = fresh.querySelector(".ended-by");
    if (detail) detail.textContent = message || "";
    current.replaceWith(fresh);
  }

  function check() {
    fetch("/session-status", {cache: "no-store", credentials: "same-origin",
                              headers: {"Accept": "application/json"}})
      .then(function (resp) { return resp.ok ? resp.json() : null; })
      .then(function (data) {
        if (data && data.state && data.state !== "signed-in") {
          show(data.state, data.message);
          return;  // over: nothing more to watch
        }
        window.setTimeout(check, INTERVAL_MS);
      })
      .catch(function () { window.setTimeout(check, INTERVAL_MS); });
  }

  window.setTimeout(check, INTERVAL_MS);
})();
