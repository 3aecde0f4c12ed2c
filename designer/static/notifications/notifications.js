// The notification templates page (/designer/KEY/notifications): events down the side, zh/en editors,
// variables that insert at the cursor, problems with their line as you type (debounced POST check), a preview
// per channel, save (PUT with the draft's revision; 409: someone else saved).
import { api, debounce, h } from "../flow/dom.js";

const root = document.getElementById("nt-editor");
const L = JSON.parse(document.getElementById("nt-labels").textContent);
const status = document.getElementById("nt-status");
const areas = [...root.querySelectorAll("textarea[data-part]")];
const channelBoxes = [...root.querySelectorAll("#nt-channels input[data-channel]")];
const webhooksInput = document.getElementById("nt-webhooks");
const previewLang = document.getElementById("nt-preview-lang");
const previewBody = document.getElementById("nt-preview-body");

let state = null; // notifications.json: {revision, events: [{event, label, defined, texts, defaults, channels, ...}]}
let current = null; // the event shown
let channel = "inapp"; // the preview tab
let lastPreview = null;
let dirty = false;
let blocked = false;
let lastArea = areas[0];

function say(message, kind = "") {
  status.textContent = message;
  status.dataset.state = kind;
}

function entry() { return state.events.find((e) => e.event === current); }

function texts() {
  const result = { zh: {}, en: {} };
  for (const area of areas) result[area.dataset.lang][area.dataset.part] = area.value;
  return result;
}

function definition() {
  return {
    channels: channelBoxes.filter((b) => b.checked).map((b) => b.dataset.channel),
    webhooks: webhooksInput.value.split(",").map((w) => w.trim()).filter(Boolean),
    ...texts(),
  };
}

// -- drawing --------------------------------------------------------------------------------------

function drawEvents() {
  const list = document.getElementById("nt-event-list");
  list.replaceChildren(...state.events.map((e) => h("li", {},
    h("button", { type: "button", class: "nt-event" + (e.event === current ? " selected" : ""),
      dataset: { event: e.event }, "aria-current": e.event === current ? "true" : undefined,
      onclick: () => choose(e.event) },
      h("span", {}, e.label), h("small", { class: e.defined ? "nt-custom" : "nt-default" },
        e.defined ? L.custom : L.default)))));
}

function drawVariables(e) {
  const list = document.getElementById("nt-variable-list");
  list.replaceChildren(...e.variables.map((v) => {
    const label = v.group === "data" && state.fields[v.name.slice(5)] ? state.fields[v.name.slice(5)] : "";
    return h("li", {}, h("button", { type: "button", class: "nt-variable", dataset: { name: v.name },
      onclick: () => insert(`{{ ${v.name} }}`) }, h("code", {}, v.name), label ? h("small", {}, " " + label) : null));
  }));
}

function choose(event) {
  if (dirty && !window.confirm(L.unsaved)) return;
  current = event;
  const e = entry();
  document.getElementById("nt-event-title").textContent = e.label;
  document.getElementById("nt-source").textContent = e.defined ? `${L.custom} · ${e.file || ""}` : L.default;
  for (const area of areas) area.value = e.texts[area.dataset.lang][area.dataset.part] || "";
  for (const box of channelBoxes) box.checked = e.channels.includes(box.dataset.channel);
  webhooksInput.value = e.webhooks.join(", ");
  dirty = false;
  drawEvents();
  drawVariables(e);
  check();
}

function insert(snippet) {
  const area = lastArea;
  const start = area.selectionStart ?? area.value.length;
  const end = area.selectionEnd ?? start;
  area.value = area.value.slice(0, start) + snippet + area.value.slice(end);
  area.focus();
  area.setSelectionRange(start + snippet.length, start + snippet.length);
  changed();
}

function drawProblems(problems) {
  for (const list of root.querySelectorAll(".nt-problems")) {
    const found = problems[list.dataset.where] || [];
    list.replaceChildren(...found.map((p) => h("li", { class: `nt-problem nt-${p.severity}`, dataset: { line: p.line } },
      h("span", { class: "nt-line" }, L.line.replace("{n}", p.line)), " ", p.message)));
    const area = document.getElementById(`nt-${list.dataset.where.replace(".", "-")}`);
    area.classList.toggle("has-error", found.some((p) => p.severity === "error"));
  }
}

function pre(value) { return h("pre", { class: "nt-pre" }, value); }

function drawPreview() {
  const p = lastPreview;
  if (!p) { previewBody.replaceChildren(); return; }
  for (const tab of root.querySelectorAll("#nt-tabs [data-channel]")) {
    tab.setAttribute("aria-selected", String(tab.dataset.channel === channel));
  }
  let content;
  if (channel === "inapp") {
    content = h("div", { class: "nt-inapp" }, h("strong", {}, p.inapp.title), pre(p.inapp.text));
  } else if (channel === "email") {
    const frame = h("iframe", { class: "nt-mail-html", sandbox: "", title: L.html });
    frame.srcdoc = p.email.html;
    content = h("div", { class: "nt-email" }, h("p", {}, h("b", {}, L.subject + ": "), h("span", { class: "nt-subject" }, p.email.subject)),
      pre(p.email.text), frame);
  } else {
    content = h("div", { class: `nt-robot nt-${channel}` }, pre(JSON.stringify(p[channel], null, 2)));
  }
  previewBody.replaceChildren(content);
  previewBody.dataset.channel = channel;
}

// -- talking to the server ------------------------------------------------------------------------

async function check() {
  const event = current;
  const { status: code, body } = await api(root.dataset.checkUrl, "POST",
    { event, texts: texts(), lang: previewLang.value });
  if (code !== 200 || event !== current) return;
  drawProblems(body.problems || {});
  lastPreview = body.preview;
  drawPreview();
  root.dataset.checked = String(Date.now());
}

const scheduleCheck = debounce(check, 400);

function changed() {
  dirty = true;
  say(L.unsaved, "dirty");
  scheduleCheck();
}

async function save(reset = false) {
  if (blocked) return;
  say(L.saving, "saving");
  const { status: code, body } = await api(root.dataset.stateUrl, "PUT",
    { revision: state.revision, event: current, definition: reset ? null : definition() });
  if (code === 200) {
    state = body;
    dirty = false;
    say(L.saved, "saved");
    choose(current);
  } else if (code === 409) {
    blocked = true;
    say(body.error || L.conflict, "error");
  } else {
    if (body.problems) drawProblems(body.problems);
    say(`${L.save_failed}: ${body.error || code}`, "error");
  }
}

async function load() {
  const { status: code, body } = await api(root.dataset.stateUrl);
  if (code !== 200) { say(body.error || L.save_failed, "error"); return; }
  state = body;
  previewLang.value = root.dataset.lang || "zh";
  say("");
  choose(state.events[0].event);
  root.dataset.ready = "true";
}

for (const area of areas) {
  area.addEventListener("input", changed);
  area.addEventListener("focus", () => { lastArea = area; });
}
for (const box of channelBoxes) box.addEventListener("change", () => { dirty = true; say(L.unsaved, "dirty"); });
webhooksInput.addEventListener("input", () => { dirty = true; say(L.unsaved, "dirty"); });
previewLang.addEventListener("change", check);
for (const tab of root.querySelectorAll("#nt-tabs [data-channel]")) {
  tab.addEventListener("click", () => { channel = tab.dataset.channel; drawPreview(); });
}
document.getElementById("nt-save").addEventListener("click", () => save(false));
document.getElementById("nt-reset").addEventListener("click", () => save(true));
window.addEventListener("beforeunload", (event) => { if (dirty) event.preventDefault(); });

load();
