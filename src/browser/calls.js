// The browser calls the app makes: fetch, WebCrypto, timers, the sign-in
// window, the page's address, sessionStorage and the EHR style's
// properties. Written here, their promise chains and error handling cost
// a few hundred bytes instead of several KB of compiled wasm and glue
// (bench/README.md); every decision about what to call, and what an
// answer means, stays in Rust (src/browser/*.rs wrap each). Nothing here
// stores or logs a key, a token or a proof.

// One request, without cookies or other credentials (every server the app
// talks to authenticates by token or PKCE, never by cookie), aborted after
// `timeoutMs`. `headers` is "name\nvalue\nname\nvalue…"; `noStore` keeps
// the answer out of the HTTP cache; `refuseRedirects` answers a redirect
// with status 0 instead of following it; with a DPoP `key`, the proof's
// `signingInput` is signed and sent as the DPoP header. Resolves to
// [status, body, then the value (or null) of each header named in `read`,
// "\n"-separated]; rejects with text: "timeout", "dpop-sign" when the
// proof could not be signed, or the browser's message. An answer longer
// than `maxChars` resolves to [-1] unread (or unkept). A request without a
// proof that this module sent as it loaded (below), alike in everything
// but its timeout, is given that request's answer, once, and is given up
// on `timeoutMs` after it was sent.
export async function send(url, method, headers, body, noStore, refuseRedirects, timeoutMs, maxChars, read, key, signingInput) {
  const request = [url, method, headers, body, noStore, refuseRedirects, maxChars];
  const id = !key && sentEarly.length && JSON.stringify(request);
  const at = id ? sentEarly.findIndex(([sent]) => sent === id) : -1;
  const [, early, abort, sentAt] = at < 0 ? [] : sentEarly.splice(at, 1)[0];
  if (early) setTimeout(() => abort.abort(), sentAt + timeoutMs - performance.now());
  const [status, text, received] = await (early ?? fetchText(request, timeoutMs, key, signingInput));
  return status < 0 ? [-1] : [status, text, ...(read ? read.split("\n").map((name) => received.get(name)) : [])];
}

// Resolves to [status, body, the response's headers], or [-1]; `abort`
// cuts it short, as its timeout does. Only config.json's early request
// is sent with other `credentials` than "omit" (below).
async function fetchText([url, method, headers, body, noStore, refuseRedirects, maxChars], timeoutMs, key, signingInput, abort = new AbortController(), credentials = "omit") {
  const request = {
    method, headers: new Headers(), body, credentials,
    cache: noStore ? "no-store" : "default", redirect: refuseRedirects ? "manual" : "follow",
  };
  const pairs = headers.split("\n");
  for (let i = 0; i < pairs.length; i += 2) request.headers.set(pairs[i], pairs[i + 1]);
  if (key) {
    const signature = await signEs256(key, signingInput).catch(() => Promise.reject("dpop-sign"));
    request.headers.set("DPoP", signingInput + "." + signature);
  }
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  request.signal = abort.signal;
  try {
    const response = await fetch(url, request);
    if (Number(response.headers.get("content-length")) > maxChars) {
      abort.abort();
      return [-1];
    }
    const text = await response.text();
    return text.length > maxChars ? [-1] : [response.status, text, response.headers];
  } catch (error) {
    throw error?.name === "AbortError" ? "timeout" : String(error?.message ?? error);
  } finally {
    clearTimeout(timer);
  }
}

// Requests sent as this module loads, before the wasm has started rather
// than after it, each with its answer to come; `send` hands them over.
// They are sent as the app would send them (src/browser/http.rs: the
// headers, the cache, redirects, the size limit), with the longest
// timeout config.json allows (smart_core::config's
// MAX_REQUEST_TIMEOUT_SECONDS); `send` gives one up once the app's own
// timeout has passed since it was sent.
const sentEarly = [];
function sendEarly(request, credentials) {
  const abort = new AbortController();
  const answer = fetchText(request, 300000, undefined, undefined, abort, credentials);
  answer.catch(() => {});
  sentEarly.push([JSON.stringify(request), answer, abort, performance.now()]);
  return answer;
}

// A GET of a JSON document, as http.rs's `Request::json` is sent (with
// `noStore` and `refuseRedirects` as its `metadata` and `key_set` set them).
const getEarly = (url, noStore, refuseRedirects, credentials) =>
  sendEarly([url, "GET", "Accept\napplication/json", undefined, noStore, refuseRedirects, 1 << 20], credentials);

// config.json: the app waits for it before anything else. index.html's
// preload link has asked for it as the page was parsed, before these
// modules ran; this request is given that answer, as it asks for the same
// URL with the same credentials mode (a preload's is "same-origin":
// config.json is on the page's own origin, which the page's own request
// sent its cookies to anyway).
const config = getEarly(new URL("config.json", document.baseURI).href, true, false, "same-origin");

// On the EHR launch page, the discovery request for the issuer whose FHIR
// base is `iss` (src/sign_in/start.rs `discover`), sent as soon as
// config.json is in. Its URL is reckoned as smart_core::config's
// `discovery_url` does (with its DESCOPE_DEFAULT_BASE_URL), from
// config.json alone: it goes only to a server the deployment names. The
// app still checks `iss` itself, and takes this answer only when it asks
// for the same URL. The module waits for it (and so the wasm's start
// does): sent from a callback alone, it waited behind the wasm's start on
// the page's thread (bench/README.md).
const query = new URLSearchParams(location.search);
const iss = /\/launch\/?$/.test(location.pathname) && query.get("launch") && query.get("iss");
const base = (url) => (url = new URL(url)).origin + url.pathname.replace(/\/+$/, "");
if (iss) await config.then(([, text]) => {
  const issuer = JSON.parse(text).issuers.find((issuer) => base(issuer.fhir_base_url) === base(iss));
  const server = issuer.authorization_server;
  getEarly(server.type === "smart" ? base(issuer.fhir_base_url) + "/.well-known/smart-configuration"
    : server.type === "descope" ? base(server.base_url ?? "https://api.descope.com") + "/v1/apps/" + server.project_id + "/.well-known/openid-configuration"
    : new URL(server.configuration_url).href, false, false);
}).catch(() => {});

// The token request of a sign-in that comes back to this page, and the read
// of the keys that vouch for its id_token: the pending record the app
// stored under the answer's `state` says how to send them (its `early`,
// smart_core::authorize; none when the request needs a DPoP proof). Sent
// only before the record's expiry, and only when the answer names the
// issuer the sign-in went to, or names none and the server does not say
// it always does: a code is never sent to another server than the one it
// came from (RFC 9207). The app checks the answer again, all of it, before
// it uses the token.
try {
  const code = query.get("code");
  const named = query.get("iss");
  // The record's key as src/browser/pending_store.rs writes it.
  const record = code && JSON.parse(sessionStorage.getItem("smart-pending:" + query.get("state")));
  // A connection to the FHIR server, opened while the token is asked for
  // (nothing is sent on it), for the reads that follow the token; without
  // credentials (crossOrigin "" is anonymous), as the reads are sent, or
  // they would not use it.
  document.head.append(Object.assign(document.createElement("link"),
    { rel: "preconnect", href: new URL(record.fhir_base).origin, crossOrigin: "" }));
  const early = record.early;
  if (Date.now() / 1000 <= early.until && (named === null ? !early.iss_required : named === early.issuer)) {
    sendEarly([early.token, "POST", "Accept\napplication/json\nContent-Type\napplication/x-www-form-urlencoded",
      early.form + "&" + new URLSearchParams({ code }), true, true, 1 << 20]);
    if (early.keys) getEarly(early.keys, true, true);
  }
} catch {
  // No code (sessionStorage is not even read), no record for this state,
  // or no storage: nothing to send.
}

// What shows while the wasm loads (a first visit downloads about 150 KB),
// until the app draws the same shell itself and takes this away
// (`dropPlaceholder`). Drawn from here, once the requests above have left,
// rather than written in index.html: text in the page as it is parsed is
// laid out (in a new profile, with the browser's fonts set up, 15-20 ms)
// before these modules may run, so before the launch page's discovery
// request (bench/README.md). Fixed markup, no value from outside; the
// classes the stylesheet styles only.
document.body.insertAdjacentHTML("afterbegin", '<div id="loading"><header class="app-header">SMART Health Summary</header><main id="main"><p class="progress" role="status"><span class="spinner" aria-hidden="true"></span>Loading…</p></main></div>');

const ecdsa = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
const rsa = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };

// A P-256 key pair whose private key cannot be exported (not even by this
// page); resolves to [privateKey, x, y], the public key's JWK coordinates.
export async function dpopKey() {
  const pair = await crypto.subtle.generateKey(ecdsa, false, ["sign"]);
  const jwk = await crypto.subtle.exportKey("jwk", pair.publicKey);
  return [pair.privateKey, jwk.x, jwk.y];
}

// ES256 over the text `input`; resolves to the signature (r || s, the JWS
// form) in base64url.
export async function signEs256(key, input) {
  const signature = await crypto.subtle.sign(ecdsa, key, new TextEncoder().encode(input));
  return btoa(String.fromCharCode(...new Uint8Array(signature)))
    .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

// RS256 with the public key (n, e): only those numbers, since `use`,
// `key_ops` or `alg` values spelt differently would make importKey refuse
// a good key. Resolves to whether the signature holds.
export async function verifyRs256(n, e, signature, data) {
  const key = await crypto.subtle.importKey("jwk", { kty: "RSA", n, e }, rsa, false, ["verify"]);
  return crypto.subtle.verify(rsa, key, signature, data);
}

// Resolves after `ms` milliseconds.
export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// In the opener of a sign-in popup: resolves to the first message from
// `popup` on this page's own origin that starts with `prefix` and is at
// most `max` characters long (the Rust side reads it); other messages are
// ignored. Rejects once the popup is seen closed on two polls in a row, so
// a hand-back posted just before closing still gets through.
export function popupMessage(popup, prefix, max, pollMs) {
  return new Promise((resolve, reject) => {
    let closedBefore = false;
    const heard = (event) => {
      const data = event.data;
      if (event.origin === location.origin && event.source === popup && typeof data === "string"
          && data.startsWith(prefix) && data.length <= max) {
        stop();
        resolve(data);
      }
    };
    const timer = setInterval(() => {
      if (popup.closed && closedBefore) {
        stop();
        reject();
      }
      closedBefore = popup.closed;
    }, pollMs);
    const stop = () => {
      removeEventListener("message", heard);
      clearInterval(timer);
    };
    addEventListener("message", heard);
  });
}

// Marks `name` on the performance timeline at the next animation frame:
// after the updates already queued have reached the DOM.
export function markWhenDrawn(name) {
  requestAnimationFrame(() => performance.mark(name));
}

// A User Timing mark now.
export function mark(name) {
  performance.mark(name);
}

// Today's date on this computer's calendar, as the number YYYYMMDD.
export function today() {
  const now = new Date();
  return now.getFullYear() * 10000 + (now.getMonth() + 1) * 100 + now.getDate();
}

// The value of field `name` of the form an event was sent from.
export function formField(event, name) {
  return String(new FormData(event.target).get(name) ?? "");
}

// The panic notice: logs `detail`, and puts `notice` in place of the
// page's content (announced as an alert).
export function stopped(detail, notice) {
  console.error(detail);
  const target = document.getElementById("main") ?? document.body;
  target.setAttribute("role", "alert");
  target.textContent = notice;
}

// Takes away the placeholder drawn above (its #loading) as the app draws.
export function dropPlaceholder() {
  document.getElementById("loading")?.remove();
}

// The page's address: `part` is "base" (the document's base URL) or a
// part of `location` ("origin", "pathname", "search").
export function here(part) {
  return part === "base" ? document.baseURI : location[part];
}

// Leaves the page for `url`, or (`replace`) puts `url` in the address bar
// in place of the current entry, without loading it.
export function go(url, replace) {
  if (replace) history.replaceState(null, "", url);
  else location.assign(url);
}

// Whether this page runs inside a frame (a top it may not even look at is
// another page's: framed).
export function framed() {
  try {
    return window.top !== window;
  } catch {
    return true;
  }
}

// Opens the sign-in window, empty; null when the browser blocks it.
export function openSignInWindow(features) {
  return open("about:blank", "smart-sign-in", features);
}

// Sends the sign-in window to `url`, or closes it (no `url`).
export function steerSignInWindow(popup, url) {
  if (url) popup.location.href = url;
  else popup.close();
}

// In a sign-in window that came back: the window that opened it, when that
// is a page of this app's origin (reading another origin's location
// throws), else null. An EHR that opened the app in a new window is never
// taken for the app.
export function ownOpener() {
  try {
    const opener = window.opener;
    return opener && opener.location.origin === location.origin ? opener : null;
  } catch {
    return null;
  }
}

// Hands `message` to `opener` (this origin only) and closes this window.
export function handBack(opener, message) {
  opener.postMessage(message, location.origin);
  close();
}

// sessionStorage, for the pending authorization only. Every call is safe
// in a tab that refuses storage: reads give null, writes false.
export function storage(key, value, remove) {
  try {
    if (remove) sessionStorage.removeItem(key);
    else if (value != null) sessionStorage.setItem(key, value);
    else return sessionStorage.getItem(key);
    return true;
  } catch {
    return value != null ? false : null;
  }
}

// The sessionStorage keys that start with `prefix`, "\n"-separated.
export function storageKeys(prefix) {
  try {
    return Object.keys(sessionStorage).filter((key) => key.startsWith(prefix)).join("\n");
  } catch {
    return "";
  }
}

// Sets a CSS custom property on the root element. setProperty parses
// `value` as one property value: it cannot add other declarations.
export function setRootProperty(name, value) {
  document.documentElement.style.setProperty(name, value);
}
