/* The logged-out page with front-channel logout iframes (Front-Channel Logout 1.0 §4).
 *
 * The page's load event waits for every iframe (the RPs' front-channel URIs): then go on to
 * the RP (the "continue" link's target); after 5 s at most, even if an RP never answers.
 * A static file, not an inline script: the pages' CSP allows scripts from /static only.
 */
(function () {
  "use strict";

  var link = document.getElementById("continue");
  if (!link || !document.querySelector("iframe.frontchannel-logout")) { return; }
  var target = link.getAttribute("data-target"), gone = false;
  function go() { if (!gone) { gone = true; window.location.replace(target); } }
  window.addEventListener("load", go);
  setTimeout(go, 5000);
})();
