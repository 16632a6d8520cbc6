// The virtual e-CPS page: long-polls the pending logins, answers them, refreshes the TOTP code.
// Every call sends the session's CSRF token (X-CSRF-Token); the page never reloads itself.
// Several logins pending: the newest is shown (an older one is most often a login abandoned
// in a closed tab), the others are listed with their binding codes and can be chosen.
// Refusing needs no PIN. A blocked (or revoked, expired) e-CPS hides the PIN and the buttons.
(function () {
  "use strict";
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const script = document.getElementById("app-script");
  const pollWait = parseFloat(script.dataset.pollWait || "20");
  const $ = (id) => document.getElementById(id);
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const UNUSABLE = {blocked: "bloquée", revoked: "révoquée", expired: "expirée"};
  let shown = null;       // the challenge on screen
  let chosen = null;      // the challenge id the professional picked in the list
  let latest = [];        // the last list from the provider
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
      const error = new Error(data.error_description || "Erreur du fournisseur.");
      error.code = data.error || "http_error";
      error.status = response.status;
      error.data = data;
      throw error;
    }
    return data;
  }

  function setResult(text, kind, code) {
    const result = $("result");
    result.textContent = text;
    result.className = kind || "";
    $("result-detail").textContent = code ? "code : " + code : "";
    $("result-detail").dataset.code = code || "";
  }

  // Times as a professional reads them: Paris time, with the offset (UTC+1 / UTC+2).
  const PARIS = new Intl.DateTimeFormat("fr-FR", {timeZone: "Europe/Paris", hour: "2-digit",
    minute: "2-digit", second: "2-digit", timeZoneName: "shortOffset"});
  function time(iso) {
    const moment = new Date(iso || "");
    if (isNaN(moment)) return "";
    const parts = PARIS.formatToParts(moment);
    const pick = (type) => (parts.find((p) => p.type === type) || {}).value || "";
    const offset = pick("timeZoneName").replace("GMT", "UTC") || "UTC";
    return pick("hour") + ":" + pick("minute") + ":" + pick("second") +
      " (heure de Paris, " + offset + ")";
  }

  function showUnusable(status) {
    stopped = true;
    shown = null;
    $("requests").hidden = true;
    $("blocked").hidden = false;
    const badge = $("device-status");
    if (badge && UNUSABLE[status]) {
      badge.textContent = UNUSABLE[status];
      badge.dataset.status = status;
      badge.className = "badge status-" + status;
    }
    document.getElementById("card").dataset.status = status;
  }

  function render(all) {
    latest = all;
    // newest first: the provider lists them oldest first
    const challenges = all.filter((c) => !answered.has(c.challenge_id)).reverse();
    let first = challenges.find((c) => c.challenge_id === chosen) || null;
    if (!first) { chosen = null; first = challenges.length ? challenges[0] : null; }
    $("request").hidden = !first;
    $("no-request").hidden = !!first;
    const others = challenges.filter((c) => c !== first);
    $("other-requests").hidden = others.length === 0;
    $("pending-count").textContent = others.length
      ? others.length + (others.length > 1 ? " autres demandes" : " autre demande") +
        " en attente : choisissez celle dont le code est affiché par votre service."
      : "";
    const list = $("request-list");
    list.replaceChildren(...others.map((c) => {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "secondary request-choice";
      button.dataset.challengeId = c.challenge_id;
      button.dataset.bindingCode = c.binding_code;
      const code = document.createElement("span");
      code.className = "binding-code";
      code.textContent = c.binding_code;
      button.append(code, c.service_name + " (reçue à " + time(c.created_at) + ")");
      button.addEventListener("click", () => { chosen = c.challenge_id; render(latest); });
      item.append(button);
      return item;
    }));
    if (!first) { shown = null; return; }
    if (shown && shown.challenge_id === first.challenge_id) return;  // keep the typed PIN
    shown = first;
    $("service-name").textContent = first.service_name;
    $("binding-code").textContent = first.binding_code;
    $("request").dataset.challengeId = first.challenge_id;
    $("request-expires").textContent = "Reçue à " + time(first.created_at) +
      ", expire à " + time(first.expires_at);
    $("pin").value = "";
    $("pin").focus();
  }

  async function poll() {
    while (!stopped) {
      try {
        // a request on screen: check now and then that it is still pending, without spinning
        const wait = shown ? 0 : pollWait;
        const data = await call("GET", "/api/pending?wait=" + wait);
        if (UNUSABLE[data.device_status]) { showUnusable(data.device_status); return; }
        if (!answering) render(data.challenges);
        if (shown) await sleep(2000);
      } catch (error) {
        setResult(error.message, "error", error.code);
        if (error.status === 401 || error.status === 403 || error.status === 409) {
          stopped = error.status === 401 || error.status === 403;
          if (error.status === 401) {
            $("request").hidden = true;
            setResult("Cette e-CPS n'est plus utilisable : " + error.message, "error",
                      error.code);
          }
        }
        await sleep(3000);
      }
    }
  }

  async function answer(decision) {
    if (!shown || answering) return;
    const pin = $("pin").value;
    if (decision === "approve" && !pin) {
      setResult("Saisissez votre code PIN pour accepter.", "error");
      $("pin").focus();
      return;
    }
    answering = true;
    $("approve").disabled = $("deny").disabled = true;
    const body = {challenge_id: shown.challenge_id, decision};
    if (decision === "approve") body.pin = pin;
    try {
      const done = await call("POST", "/api/answer", body);
      answered.add(done.challenge_id);
      setResult(done.status === "approved"
        ? "Connexion acceptée (" + done.service_name + ", code " + done.binding_code + ")."
        : "Connexion refusée (" + done.service_name + ").", done.status);
      shown = null;
      chosen = null;
      render(latest);
    } catch (error) {
      setResult(error.message, "error", error.code);
      if (error.data && UNUSABLE[error.data.device_status]) {
        showUnusable(error.data.device_status);
      } else if (error.code === "challenge_closed" || error.code === "unknown_challenge") {
        answered.add(shown.challenge_id);
        shown = null;
        render(latest);
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
    const status = document.getElementById("card").dataset.status;
    if (!UNUSABLE[status] && status !== "revoked") poll();
  }
  if ($("totp")) otpLoop();

  // The session list follows the provider while the page is open: a new login elsewhere or a
  // logout from a service shows up within a few seconds, without a reload.
  function sessionItem(s) {
    const item = document.createElement("li");
    item.className = "session";
    item.dataset.sid = s.sid;
    const since = document.createElement("span");
    since.className = "hint";
    since.textContent = "depuis le " + s.since + " (" + s.auth_mode + ")";
    const services = document.createElement("span");
    services.className = "services";
    services.textContent = s.clients.join(", ") || "—";
    const form = document.createElement("form");
    form.method = "post";
    form.action = "/sessions/" + encodeURIComponent(s.sid) + "/end";
    const token = document.createElement("input");
    token.type = "hidden";
    token.name = "csrf_token";
    token.value = csrf;
    const button = document.createElement("button");
    button.type = "submit";
    button.className = "link-button end-session";
    button.textContent = "Se déconnecter";
    form.append(token, button);
    item.append(since, services, form);
    return item;
  }

  async function sessionsLoop() {
    const list = document.querySelector("#sessions ul.sessions");
    let known = Array.from(list.querySelectorAll("li.session")).map((li) => li.dataset.sid +
      "|" + li.querySelector(".services").textContent).join(",");
    while (true) {
      await sleep(3000);
      try {
        const data = await call("GET", "/api/sessions");
        const now = data.sessions.map((s) => s.sid + "|" + (s.clients.join(", ") || "—"))
          .join(",");
        if (now === known) continue;
        known = now;
        const empty = document.createElement("li");
        empty.className = "hint";
        empty.textContent = "Aucune session ouverte.";
        list.replaceChildren(...(data.sessions.length ? data.sessions.map(sessionItem)
                                                        : [empty]));
      } catch (error) {
        /* the provider is away: try again at the next turn */
      }
    }
  }
  if (document.querySelector("#sessions ul.sessions")) sessionsLoop();
})();
