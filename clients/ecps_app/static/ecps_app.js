// The virtual e-CPS page: long-polls the pending logins, answers them, refreshes the TOTP code.
// Every call sends the session's CSRF token (X-CSRF-Token); the page never reloads itself.
(function () {
  "use strict";
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const script = document.getElementById("app-script");
  const pollWait = parseFloat(script.dataset.pollWait || "20");
  const $ = (id) => document.getElementById(id);
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  let shown = null;       // the challenge on screen
  let answering = false;
  let stopped = false;
  const answered = new Set();  // a poll in flight may still list what was just answered

  async function call(method, path, body) {
    const options = {method, cache: "no-store", credentials: "same-origin",
                     headers: {"X-CSRF-Token": csrf}};
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(path, options);
    let data = {};
    try { data = await response.json(); } catch (e) { data = {}; }
    if (!response.ok) {
      const error = new Error(data.error_description || ("HTTP " + response.status));
      error.code = data.error || "http_error";
      error.status = response.status;
      throw error;
    }
    return data;
  }

  function setResult(text, kind) {
    const result = $("result");
    result.textContent = text;
    result.className = kind || "";
  }

  function render(all) {
    const challenges = all.filter((c) => !answered.has(c.challenge_id));
    const first = challenges.length ? challenges[0] : null;
    $("request").hidden = !first;
    $("no-request").hidden = !!first;
    $("pending-count").textContent = challenges.length > 1
      ? (challenges.length - 1) + " autre(s) demande(s) en attente" : "";
    if (!first) { shown = null; return; }
    if (shown && shown.challenge_id === first.challenge_id) return;  // keep the typed PIN
    shown = first;
    $("service-name").textContent = first.service_name;
    $("binding-code").textContent = first.binding_code;
    $("request").dataset.challengeId = first.challenge_id;
    $("request-expires").textContent = "Expire à " + (first.expires_at || "").slice(11, 19) +
      " (UTC)";
    $("pin").value = "";
    $("pin").focus();
  }

  async function poll() {
    while (!stopped) {
      try {
        // a request on screen: check now and then that it is still pending, without spinning
        const wait = shown ? 0 : pollWait;
        const data = await call("GET", "/api/pending?wait=" + wait);
        if (!answering) render(data.challenges);
        if (shown) await sleep(2000);
      } catch (error) {
        setResult(error.message, "error");
        if (error.status === 401 || error.status === 403 || error.status === 409) {
          stopped = error.status === 401 || error.status === 403;
          if (error.status === 401) {
            $("request").hidden = true;
            setResult("Cette e-CPS n'est plus utilisable (" + error.message + ").", "error");
          }
        }
        await sleep(3000);
      }
    }
  }

  async function answer(decision) {
    if (!shown || answering) return;
    answering = true;
    $("approve").disabled = $("deny").disabled = true;
    try {
      const done = await call("POST", "/api/answer", {challenge_id: shown.challenge_id,
                                                      decision, pin: $("pin").value});
      answered.add(done.challenge_id);
      setResult(done.status === "approved"
        ? "Connexion acceptée (" + done.service_name + ", code " + done.binding_code + ")."
        : "Connexion refusée (" + done.service_name + ").", done.status);
      shown = null;
      render([]);
    } catch (error) {
      setResult(error.message + " (" + error.code + ")", "error");
      if (error.code === "challenge_closed" || error.code === "unknown_challenge") {
        answered.add(shown.challenge_id);
        shown = null;
        render([]);
      }
      $("pin").value = "";
    } finally {
      answering = false;
      $("approve").disabled = $("deny").disabled = false;
    }
  }

  async function refreshOtp() {
    try {
      const data = await call("GET", "/api/otp");
      $("totp").textContent = data.otp;
      return data.remaining;
    } catch (error) {
      return 5;
    }
  }

  async function otpLoop() {
    let remaining = parseInt($("totp-remaining").textContent, 10) || 1;
    while (true) {
      $("totp-remaining").textContent = remaining;
      await sleep(1000);
      remaining -= 1;
      if (remaining <= 0) remaining = await refreshOtp();
    }
  }

  if ($("request")) {
    $("approve").addEventListener("click", () => answer("approve"));
    $("deny").addEventListener("click", () => answer("deny"));
    $("pin").addEventListener("keydown", (event) => {
      if (event.key === "Enter") answer("approve");
    });
    if (document.getElementById("card").dataset.status !== "revoked") poll();
  }
  if ($("totp")) otpLoop();
})();
