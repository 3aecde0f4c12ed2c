// Small DOM and fetch helpers of the chain editor (no third-party code; CSP script-src 'self').

export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") element.addEventListener(key.slice(2), value);
    else if (key === "class") element.className = value;
    else if (key === "dataset") Object.assign(element.dataset, value);
    else if (key === "value") element.value = value;
    else if (key === "checked" || key === "selected" || key === "disabled" || key === "hidden") element[key] = true;
    else element.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

export function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

// JSON request with the CSRF header: resolves {status, body} (body {} when not JSON). `keepalive`: the
// request outlives the page (a save sent as the page unloads; browsers cap such a body at 64 KB).
export async function api(url, method = "GET", body = undefined, { keepalive = false } = {}) {
  const options = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.headers["X-CSRFToken"] = csrfToken();
    options.body = JSON.stringify(body);
    options.keepalive = keepalive && options.body.length < 60000;
  }
  let response;
  try {
    response = await fetch(url, options);
  } catch (error) {
    return { status: 0, body: { error: String(error) } };
  }
  let data = {};
  try { data = await response.json(); } catch (error) { data = {}; }
  return { status: response.status, body: data };
}

export function text(value, lang) {
  if (value && typeof value === "object") return value[lang] || value.zh || value.en || "";
  return value == null ? "" : String(value);
}

// A change not saved yet is sent as the page unloads (keepalive), and the browser asks before leaving:
// clicking a tab within the autosave's delay no longer drops the last change. `busy()`: a save is in flight.
export function saveOnLeave(scheduleSave, busy) {
  window.addEventListener("beforeunload", (event) => {
    if (!scheduleSave.pending() && !busy()) return;
    if (scheduleSave.pending()) scheduleSave.flush({ keepalive: true });
    event.preventDefault();
  });
}

export function debounce(fn, ms) {
  let timer = null;
  const run = (...args) => { clearTimeout(timer); timer = setTimeout(() => { timer = null; fn(...args); }, ms); };
  run.pending = () => timer !== null;
  run.flush = (...args) => { if (timer !== null) { clearTimeout(timer); timer = null; return fn(...args); } return undefined; };
  return run;
}
