/* automaps console: read-only views of the maps and contacts (no framework, no build step).
 *
 * Views by the URL's hash: #/maps, #/maps/<id>, #/contacts, #/contacts?q=<text>, #/contacts/<id>.
 * Data comes from <base>api/... as JSON; every value reaches the page through textContent or
 * attributes (never innerHTML). The map's SVG is parsed as XML and copied element by element
 * through an allow-list (no script, no event attributes, no links).
 * Sign-in: the Cognito hosted sign-in (authorization code with PKCE); the ID token is kept in
 * sessionStorage and sent as the Authorization header. Where the console has no sign-in
 * settings (automaps serve on loopback), requests go without one.
 */
"use strict";

(function () {
  const BASE = document.documentElement.dataset.base || "/console/";
  const TOKEN = "automaps.console.token";
  const PKCE = "automaps.console.pkce";
  let signIn = null;

  // ------------------------------------------------------------------ small DOM helpers
  function $(id) { return document.getElementById(id); }

  function el(tag, attributes, children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attributes || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "text") node.textContent = String(value);
      else node.setAttribute(key, String(value));
    }
    for (const child of children || []) {
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  function number(value) { return value === null || value === undefined ? "–" : String(value); }

  let shown = null; // the view on screen: moving to another one moves the focus to its heading

  function show(view) {
    const moved = shown !== null && view !== null && view !== shown;
    shown = view;
    for (const id of ["view-maps", "view-map", "view-contacts", "view-contact"]) $(id).hidden = id !== view;
    for (const [link, views] of [["nav-maps", ["view-maps", "view-map"]], ["nav-contacts", ["view-contacts", "view-contact"]]]) {
      if (views.includes(view)) $(link).setAttribute("aria-current", "page");
      else $(link).removeAttribute("aria-current");
    }
    if (moved) {
      const heading = $(view).querySelector("h1");
      heading.setAttribute("tabindex", "-1");
      heading.focus({ preventScroll: false });
    }
  }

  function message(text) {
    const box = $("message");
    box.textContent = text || "";
    box.hidden = !text;
  }

  // ------------------------------------------------------------------ sign-in (PKCE)
  function base64url(bytes) {
    let text = "";
    for (const b of new Uint8Array(bytes)) text += String.fromCharCode(b);
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function randomText() { return base64url(crypto.getRandomValues(new Uint8Array(32))); }

  function pagePath() { return BASE.replace(/\/$/, ""); } // the console's URL: <stage>/console, no trailing slash

  function redirectUri() { return window.location.origin + pagePath(); }

  async function startSignIn() {
    const verifier = randomText();
    const state = randomText();
    const challenge = base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
    sessionStorage.setItem(PKCE, JSON.stringify({ verifier, state }));
    const query = new URLSearchParams({
      response_type: "code", client_id: signIn.client_id, redirect_uri: redirectUri(),
      scope: "openid email profile", state, code_challenge: challenge, code_challenge_method: "S256",
    });
    window.location.assign(signIn.domain + "/oauth2/authorize?" + query.toString());
  }

  async function finishSignIn(query) {
    const saved = JSON.parse(sessionStorage.getItem(PKCE) || "{}");
    sessionStorage.removeItem(PKCE);
    window.history.replaceState(null, "", pagePath() + "#/maps");
    if (!saved.state || saved.state !== query.get("state")) {
      return "Sign-in did not complete (its state did not match). Sign in again.";
    }
    const body = new URLSearchParams({
      grant_type: "authorization_code", client_id: signIn.client_id, code: query.get("code"),
      redirect_uri: redirectUri(), code_verifier: saved.verifier,
    });
    const response = await fetch(signIn.domain + "/oauth2/token", {
      method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" }, body,
    });
    if (!response.ok) {
      return "Sign-in did not complete (the token exchange answered " + response.status + "). Sign in again.";
    }
    const tokens = await response.json();
    sessionStorage.setItem(TOKEN, JSON.stringify({
      id_token: tokens.id_token, expires_at: Date.now() + 1000 * (tokens.expires_in || 3600),
    }));
    return null;
  }

  function token() {
    const saved = JSON.parse(sessionStorage.getItem(TOKEN) || "null");
    if (!saved || !saved.id_token || saved.expires_at < Date.now()) return null;
    return saved.id_token;
  }

  function claims(idToken) {
    try {
      const part = idToken.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      return JSON.parse(atob(part));
    } catch (error) {
      return {};
    }
  }

  function signOut() {
    sessionStorage.removeItem(TOKEN);
    if (!signIn) { window.location.reload(); return; }
    const query = new URLSearchParams({ client_id: signIn.client_id, logout_uri: redirectUri() });
    window.location.assign(signIn.domain + "/logout?" + query.toString());
  }

  function showSession() {
    const current = token();
    $("sign-in").hidden = !signIn || Boolean(current);
    $("sign-out").hidden = !signIn || !current;
    $("who").textContent = current ? "Signed in as " + (claims(current).email || "a team member") : (signIn ? "" : "Local console (no sign-in)");
  }

  class SignInNeeded extends Error {}

  async function api(path) {
    const headers = { Accept: "application/json" };
    const current = token();
    if (current) headers.Authorization = current;
    const response = await fetch(BASE + "api/" + path, { headers, credentials: "omit" });
    if (response.status === 401) { // API Gateway's Cognito authorizer: no token, or not one it accepts
      sessionStorage.removeItem(TOKEN);
      showSession();
      throw new SignInNeeded(signIn ? "Sign in to see the console." : "This console needs sign-in, and none is set up here.");
    }
    const payload = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(payload.message || ("The console's API answered " + response.status));
    return payload;
  }

  // ------------------------------------------------------------------ the map's SVG, copied through an allow-list
  const SVG_NS = "http://www.w3.org/2000/svg";
  const ELEMENTS = new Set(["svg", "g", "rect", "circle", "ellipse", "line", "polyline", "polygon", "path", "text",
    "tspan", "title", "desc", "defs", "marker", "style"]);
  const ATTRIBUTES = /^(viewBox|width|height|x|y|x1|x2|y1|y2|cx|cy|r|rx|ry|d|points|fill|stroke|stroke-width|stroke-dasharray|stroke-linecap|stroke-linejoin|font-size|font-family|font-weight|text-anchor|dominant-baseline|transform|class|id|marker-end|marker-start|markerWidth|markerHeight|refX|refY|orient|markerUnits|opacity|fill-opacity|preserveAspectRatio|role|aria-label|aria-labelledby|aria-describedby|aria-hidden|data-step|dx|dy|xml:space|version)$/;

  function copySvg(source) {
    if (source.nodeType === Node.TEXT_NODE) return document.createTextNode(source.nodeValue);
    if (source.nodeType !== Node.ELEMENT_NODE || source.namespaceURI !== SVG_NS || !ELEMENTS.has(source.localName)) return null;
    if (source.localName === "style") return null; // the page's CSS styles the drawing; no style from data
    const copy = document.createElementNS(SVG_NS, source.localName);
    for (const attribute of Array.from(source.attributes)) {
      const value = attribute.value;
      if (ATTRIBUTES.test(attribute.name) && !/url\((?!#)|javascript:/i.test(value)) copy.setAttribute(attribute.name, value);
    }
    for (const child of Array.from(source.childNodes)) {
      const copied = copySvg(child);
      if (copied) copy.append(copied);
    }
    return copy;
  }

  function drawing(svgText, label) {
    const parsed = new DOMParser().parseFromString(svgText, "image/svg+xml");
    const root = parsed.documentElement;
    if (!root || root.localName !== "svg" || parsed.getElementsByTagName("parsererror").length) return null;
    const svg = copySvg(root);
    if (!svg) return null;
    if (!svg.getAttribute("role")) svg.setAttribute("role", "img");
    let title = Array.from(svg.children).find((child) => child.localName === "title");
    if (!title) {
      title = document.createElementNS(SVG_NS, "title");
      title.textContent = label;
      svg.prepend(title);
    }
    if (!title.id) title.id = "map-drawing-title";
    if (!svg.getAttribute("aria-labelledby")) svg.setAttribute("aria-labelledby", title.id);
    svg.setAttribute("aria-label", title.textContent || label);
    return svg;
  }

  // ------------------------------------------------------------------ views
  async function viewMaps() {
    show("view-maps");
    const body = $("maps-table").tBodies[0];
    clear(body);
    const { maps } = await api("maps");
    for (const map of maps) {
      body.append(el("tr", {}, [
        el("th", { scope: "row" }, [el("a", { href: "#/maps/" + encodeURIComponent(map.id), text: map.id })]),
        el("td", { text: map.name }),
        el("td", { class: "n", text: number(map.entered) }),
        el("td", { class: "n", text: number(map.active) }),
        el("td", { class: "n", text: number(map.exited) }),
      ]));
    }
    if (!maps.length) body.append(el("tr", {}, [el("td", { colspan: 5, text: "No maps pushed yet (automaps push)." })]));
  }

  const MESSAGE_KEYS = ["sent", "delivered", "opened", "clicked", "bounced", "complained", "unsubscribed"];

  async function viewMap(mapId) {
    show("view-map");
    $("map-heading").textContent = mapId;
    clear($("map-drawing"));
    clear($("steps-table").tBodies[0]);
    const found = await api("maps/" + encodeURIComponent(mapId));
    const name = found.map.name || mapId;
    $("map-heading").textContent = name + " (" + found.map.id + ")";
    document.title = name + " – automaps console";
    $("map-description").textContent = found.map.description || "";
    const stats = found.stats || {};
    $("map-totals").textContent = found.stats
      ? "Entered " + number(stats.entered) + " · active " + number(stats.active) + " · exited " + number(stats.exited)
      : "No numbers recorded for this map yet.";
    const label = "Map " + found.map.id + " drawn with its steps" + (found.stats ? " and their numbers" : "");
    const svg = found.svg ? drawing(found.svg, label) : null;
    $("map-drawing").append(svg || el("p", { text: "No drawing of this map: " + (found.drawing_problem || "it could not be read") + "." }));
    const body = $("steps-table").tBodies[0];
    const steps = stats.steps || {};
    for (const step of found.steps && found.steps.length ? found.steps : Object.keys(steps)) {
      const counted = steps[step] || {};
      const messages = MESSAGE_KEYS.filter((key) => counted[key] !== undefined)
        .map((key) => key + " " + counted[key] + (counted.rates && counted.rates[key] !== undefined ? " (" + Math.round(100 * counted.rates[key]) + "%)" : ""));
      body.append(el("tr", {}, [
        el("th", { scope: "row", text: step }),
        el("td", { class: "n", text: number(counted.waiting) }),
        el("td", { class: "n", text: number(counted.done) }),
        el("td", { class: "n", text: number(counted.skipped) }),
        el("td", { class: "n", text: number(counted.failed) }),
        el("td", { text: messages.join(", ") }),
      ]));
    }
  }

  function describeContact(contact) {
    const fields = contact.fields || {};
    const name = [fields.first_name, fields.last_name].filter(Boolean).join(" ");
    return [name, contact.email || fields.email, contact.phone || fields.phone].filter(Boolean).join(" · ") || contact.id;
  }

  async function viewContacts(query) {
    show("view-contacts");
    const input = $("search-q");
    const results = $("results");
    clear(results);
    if (query === null) { $("search-status").textContent = ""; return; }
    input.value = query;
    $("more-results").hidden = true;
    $("search-status").textContent = "Searching…";
    await resultsPage(query, null);
  }

  async function resultsPage(query, next) {
    const found = await api("contacts?q=" + encodeURIComponent(query) + (next ? "&next=" + encodeURIComponent(next) : ""));
    for (const contact of found.contacts || []) {
      const tags = (contact.tags || []).join(", ");
      $("results").append(el("li", {}, [
        el("a", { href: "#/contacts/" + encodeURIComponent(contact.id), text: describeContact(contact) }),
        tags ? el("span", { class: "tags", text: " tags: " + tags }) : "",
      ]));
    }
    const count = $("results").children.length;
    const counted = count === 1 ? "1 contact found" : count + " contacts found";
    $("search-status").textContent = found.next ? counted + " so far; more contacts to look through." : counted + ".";
    const more = $("more-results");
    more.hidden = !found.next;
    more.onclick = found.next ? () => {
      more.hidden = true;
      resultsPage(query, found.next).catch((error) => message(error.message || String(error)));
    } : null;
  }

  function when(at) { return at ? String(at).replace("T", " ").replace(/\.\d+/, "").replace("+00:00", "Z") : ""; }

  async function viewContact(contactId) {
    show("view-contact");
    for (const id of ["profile", "enrollments", "timeline"]) clear($(id));
    $("explain").textContent = "";
    $("contact-heading").textContent = contactId;
    const found = await api("contacts/" + encodeURIComponent(contactId));
    const contact = found.contact || found.profile || found;
    $("contact-heading").textContent = describeContact(contact);
    document.title = describeContact(contact) + " – automaps console";
    const profile = $("profile");
    const fields = Object.assign({ id: contact.id }, contact.fields || {});
    if (contact.email) fields.email = contact.email;
    if (contact.phone) fields.phone = contact.phone;
    if ((contact.tags || found.tags || []).length) fields.tags = (contact.tags || found.tags).join(", ");
    if ((found.lists || contact.lists || []).length) fields.lists = (found.lists || contact.lists).map((l) => (typeof l === "string" ? l : l.name || l.list || JSON.stringify(l))).join(", ");
    for (const [key, value] of Object.entries(fields)) {
      if (value === null || value === undefined || typeof value === "object") continue;
      profile.append(el("dt", { text: key }), el("dd", { text: value }));
    }
    $("explain").textContent = found.explain || "No explanation available.";
    for (const enrollment of found.enrollments || []) {
      $("enrollments").append(el("li", {}, [
        el("a", { href: "#/maps/" + encodeURIComponent(enrollment.map_id), text: enrollment.map_id }),
        " " + (enrollment.status || "") + (enrollment.exit_reason ? " (" + enrollment.exit_reason + ")" : "")
          + (enrollment.started_at ? ", since " + when(enrollment.started_at) : ""),
      ]));
    }
    if (!(found.enrollments || []).length) $("enrollments").append(el("li", { text: "In no map." }));
    timeline(contactId, found);
  }

  function timeline(contactId, found) {
    for (const entry of found.timeline || []) {
      const where = [entry.map_id, entry.step_id].filter(Boolean).join(" / ");
      $("timeline").append(el("li", {}, [
        el("time", { datetime: entry.at, text: when(entry.at) }),
        " ", el("strong", { text: entry.kind }),
        where ? " " + where : "",
      ]));
    }
    const older = $("older");
    older.hidden = !found.next;
    older.onclick = found.next ? async () => {
      older.hidden = true;
      try {
        timeline(contactId, await api("contacts/" + encodeURIComponent(contactId) + "?next=" + encodeURIComponent(found.next)));
      } catch (error) {
        message(error.message || String(error));
      }
    } : null;
  }

  // ------------------------------------------------------------------ routing
  async function route() {
    message("");
    const hash = window.location.hash.replace(/^#/, "") || "/maps";
    const [path, queryText] = hash.split("?");
    const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
    try {
      if (parts[0] === "maps" && parts[1]) await viewMap(parts[1]);
      else if (parts[0] === "contacts" && parts[1]) await viewContact(parts[1]);
      else if (parts[0] === "contacts") await viewContacts(new URLSearchParams(queryText || "").get("q"));
      else await viewMaps();
    } catch (error) {
      $("search-status").textContent = "";
      message(error.message || String(error));
    }
  }

  async function start() {
    $("sign-in").addEventListener("click", () => { startSignIn().catch((error) => message(error.message)); });
    $("sign-out").addEventListener("click", signOut);
    $("search-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const text = $("search-q").value.trim();
      if (!text) { $("search-status").textContent = "Type an email, a phone or a tag first."; return; }
      const target = "#/contacts?q=" + encodeURIComponent(text);
      if (window.location.hash === target) route(); else window.location.hash = target;
    });
    window.addEventListener("hashchange", route);
    try {
      const response = await fetch(BASE + "settings", { headers: { Accept: "application/json" } });
      signIn = (await response.json()).sign_in || null;
    } catch (error) {
      signIn = null;
    }
    const query = new URLSearchParams(window.location.search);
    let problem = null;
    if (signIn && query.get("code")) problem = await finishSignIn(query).catch((error) => error.message);
    showSession();
    if (signIn && !token()) {
      show(null);
      message(problem || "Sign in to see the console.");
      return;
    }
    await route();
  }

  document.addEventListener("DOMContentLoaded", start);
})();
