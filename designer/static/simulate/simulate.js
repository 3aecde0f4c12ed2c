// The simulate page (issue 15): step through the draft in a sandbox (designer/simulate.py's JSON routes).
// Plain ES module; the diagram is drawn with the bpmn-js viewer (global BpmnJS, /vendor/bpmn-viewer.js).
import { api, h } from "../flow/dom.js";

const root = document.getElementById("simulate");
const labels = JSON.parse(document.getElementById("sim-labels").textContent);
const $ = (id) => document.getElementById(id);
let sim = null;          // the sandbox id
let revision = null;     // the draft revision the sandbox was made from
let viewer = null;
let marked = [];

function status(message) { $("sim-status").textContent = message || ""; }

function showError(message) {
  const box = $("sim-error");
  box.textContent = message || "";
  box.hidden = !message;
}

function simUrl(suffix = "") { return `${root.dataset.baseUrl}/${sim}${suffix}`; }

async function call(url, method, body) {
  showError("");
  status(labels.loading);
  root.dataset.state = "busy";
  const { status: code, body: answer } = await api(url, method, body);
  root.dataset.state = "ready";
  if (code !== 200) {
    const problems = (answer.problems || []).map((p) => `${p.file}${p.line ? ":" + p.line : ""} ${p.message}`);
    showError([labels.failed.replace("%(reason)s", answer.error || code), ...problems].join("\n"));
    status("");
    return null;
  }
  status("");
  return answer;
}

// -- values typed into a form ------------------------------------------------------------------

function parseValue(field, raw) {
  if (raw === "") return undefined;
  if (["number", "money", "integer", "rating", "slider"].includes(field.type)) {
    const number = Number(raw);
    return Number.isNaN(number) ? raw : number;
  }
  if (["text", "textarea", "user", "date", "datetime", "time", "email", "phone", "url"].includes(field.type)) return raw;
  try { return JSON.parse(raw); } catch (error) { return raw; }  // radio / select / checkbox: true, 3, "a"
}

function fieldInputs(fields, prefix) {
  return fields.map((field) => {
    const id = `${prefix}-${field.name}`;
    const number = ["number", "money", "integer"].includes(field.type);
    const input = h("input", { id, type: number ? "number" : "text", step: number ? "any" : null,
                               dataset: { field: field.name, type: field.type,
                                          ...(field.options ? { options: JSON.stringify(field.options) } : {}) },
                               autocomplete: "off", placeholder: choiceHint(field),
                               list: field.type === "user" ? "sim-people" : null });
    return h("p", { class: "sim-field" }, h("label", { for: id }, field.label, " ", h("code", {}, field.name)), input);
  });
}

// The values a choice field accepts, shown in its empty box (checkboxes take a JSON list of them).
function choiceHint(field) {
  if (!field.options || !field.options.length) return null;
  const values = field.options.map((o) => String(o)).join(" / ");
  return field.type === "checkboxes" ? `[${field.options.map((o) => JSON.stringify(o)).join(", ")}]` : values;
}

function collect(container) {
  const data = {};
  container.querySelectorAll("input[data-field]").forEach((input) => {
    const value = parseValue({ type: input.dataset.type }, input.value.trim());
    if (value !== undefined) data[input.dataset.field] = value;
  });
  return data;
}

// A value the field's form accepts: a choice field's first option (checkboxes: a list of it), no file.
function sampleValue(type, options) {
  if (options && options.length) {
    const first = JSON.stringify(options[0]);
    return type === "checkboxes" ? `[${first}]` : (typeof options[0] === "string" ? options[0] : first);
  }
  if (["file", "files"].includes(type)) return "";
  if (["number", "money", "integer", "rating", "slider"].includes(type)) return "100";
  if (type === "date") return new Date().toISOString().slice(0, 10);
  if (["radio", "checkbox", "switch", "boolean"].includes(type)) return "true";
  if (type === "user") return $("sim-initiator").value;
  return "sample";
}

// -- people search -----------------------------------------------------------------------------

async function searchPeople(query) {
  if (!root.dataset.peopleUrl) return;
  const { status: code, body } = await api(`${root.dataset.peopleUrl}?q=${encodeURIComponent(query)}`);
  if (code !== 200 || !Array.isArray(body)) return;
  $("sim-people").replaceChildren(...body.map((p) => h("option", { value: p.value }, `${p.label} · ${p.detail}`)));
}

// -- the diagram -------------------------------------------------------------------------------

async function drawDiagram() {
  const box = $("sim-diagram");
  if (typeof window.BpmnJS !== "function") { box.dataset.state = "unavailable"; return; }
  // the draft's diagram labelled in the page's language (designer.draft_xml), for display only
  const answer = await fetch(root.dataset.diagramUrl, { credentials: "same-origin" });
  if (!answer.ok) { box.dataset.state = "failed"; box.textContent = labels.diagramFailed; return; }
  const xml = await answer.text();
  viewer = new window.BpmnJS({ container: box });
  try {
    await viewer.importXML(xml);
    viewer.get("canvas").zoom("fit-viewport", "auto");
    box.dataset.state = "ready";
  } catch (error) {
    box.dataset.state = "failed";
    box.textContent = labels.diagramFailed;
  }
}

function markDiagram(state) {
  if (!viewer) return;
  const canvas = viewer.get("canvas");
  const registry = viewer.get("elementRegistry");
  marked.forEach(([id, marker]) => canvas.removeMarker(id, marker));
  marked = [];
  const add = (id, marker) => { if (registry.get(id)) { canvas.addMarker(id, marker); marked.push([id, marker]); } };
  (state.path || []).forEach((id) => add(id, "sim-done"));
  (state.tokens || []).forEach((id) => add(id, "sim-token"));
  $("sim-diagram").dataset.tokens = (state.tokens || []).join(" ");
}

// -- rendering the state -----------------------------------------------------------------------

function renderTask(task) {
  const who = h("select", { class: "sim-who", "aria-label": labels.mayAct },
    task.people.map((p) => h("option", { value: p.username }, p.name)));
  const action = h("select", { class: "sim-action", "aria-label": labels.action },
    ["complete", "approve", "reject"].map((a) => h("option", { value: a }, labels[a])));
  const fields = h("div", { class: "sim-fields" }, fieldInputs(task.fields, `sim-task-${task.id}`));
  const button = h("button", { type: "button", class: "primary sim-step" }, labels.step);
  button.addEventListener("click", async () => {
    if (!who.value) { showError(labels.nobody); return; }
    const answer = await call(simUrl("/act"), "POST",
      { task: task.id, user: who.value, action: action.value, data: collect(fields) });
    if (answer) render(answer);
  });
  return h("article", { class: "sim-task", dataset: { element: task.element_id, task: task.id } },
    h("h3", {}, task.name || task.element_id, " ", h("code", {}, task.element_id)),
    h("p", {}, h("label", {}, labels.mayAct, " ", who), " ", h("label", {}, labels.action, " ", action)),
    fields, h("p", {}, button));
}

function renderWaits(state) {
  $("sim-timers").replaceChildren(...(state.timers || []).map((timer) => {
    const button = h("button", { type: "button", class: "secondary sim-fire", dataset: { timer: timer.id } }, labels.fire);
    button.addEventListener("click", async () => {
      const answer = await call(simUrl("/timer"), "POST", { timer: timer.id });
      if (answer) render(answer);
    });
    return h("p", {}, "⏱ ", h("code", {}, timer.element_id || timer.kind), " ", button);
  }));
  $("sim-messages").replaceChildren(...(state.messages || []).map((message) => {
    const payload = h("input", { class: "sim-payload", value: "{}", "aria-label": "payload (JSON)" });
    const button = h("button", { type: "button", class: "secondary sim-send" }, labels.send);
    button.addEventListener("click", async () => {
      let data = {};
      try { data = JSON.parse(payload.value || "{}"); } catch (error) { showError(String(error)); return; }
      const answer = await call(simUrl("/message"), "POST", { name: message.name, key: message.key, payload: data });
      if (answer) render(answer);
    });
    return h("p", {}, "✉ ", h("code", {}, message.name), message.key ? ` (${message.key})` : "", " ", payload, " ", button);
  }));
  $("sim-waits").hidden = !(state.timers || []).length && !(state.messages || []).length;
}

function logLine(entry, names) {
  const who = names[entry.user] || entry.user;
  if (entry.kind === "start") return `${labels.started}: ${who} ${JSON.stringify(entry.data)}`;
  if (entry.kind === "task") return `${entry.task}: ${who} · ${labels[entry.action] || entry.action} ${JSON.stringify(entry.data)}`;
  if (entry.kind === "timer") return `⏱ ${entry.element_id}`;
  return `✉ ${entry.name}${entry.key ? " (" + entry.key + ")" : ""}`;
}

function render(state) {
  $("sim-begin").hidden = state.started;
  if (!state.started) {
    const box = $("sim-start-fields");
    if (!box.childElementCount) box.replaceChildren(...fieldInputs(state.start_fields || [], "sim-start"));
  }
  const tasks = state.tasks || [];
  $("sim-tasks").replaceChildren(...(tasks.length ? tasks.map(renderTask) : [h("p", {}, labels.noTasks)]));
  renderWaits(state);
  $("sim-data").textContent = JSON.stringify(state.data || {}, null, 2);
  $("sim-outcome").textContent = state.started
    ? `${labels.status[state.status] || state.status}${state.end_event ? " · " + state.end_event : ""}` : "";
  $("sim-log").replaceChildren(...(state.log || []).map((entry) => h("li", {}, logLine(entry, state.names || {}))));
  $("sim-save").disabled = !state.started;
  root.dataset.steps = String((state.log || []).length);
  root.dataset.status = state.status || "";
  markDiagram(state);
}

// -- wiring ------------------------------------------------------------------------------------

async function begin() {
  if (sim) await api(simUrl(), "DELETE", {});
  sim = null;
  $("sim-start-fields").replaceChildren();
  $("sim-saved").textContent = "";
  const answer = await call(root.dataset.sessionsUrl, "POST", {});
  if (!answer) { root.dataset.state = "failed"; return; }
  sim = answer.id;
  revision = answer.revision;
  render(answer);
}

$("sim-initiator").addEventListener("input", (event) => searchPeople(event.target.value));
$("sim-sample").addEventListener("click", () => {
  $("sim-start-fields").querySelectorAll("input[data-field]").forEach((input) => {
    if (!input.value) input.value = sampleValue(input.dataset.type, input.dataset.options && JSON.parse(input.dataset.options));
  });
});
$("sim-start").addEventListener("click", async () => {
  const initiator = $("sim-initiator").value.trim();
  if (!initiator) { showError(labels.nobody); return; }
  const answer = await call(simUrl("/start"), "POST", { initiator, data: collect($("sim-start-fields")) });
  if (answer) render(answer);
});
$("sim-save").addEventListener("click", async () => {
  const answer = await call(simUrl("/save"), "POST", { name: $("sim-test-name").value.trim(), revision });
  if (answer) { revision = answer.revision; $("sim-saved").textContent = answer.message; }
});
$("sim-restart").addEventListener("click", begin);
window.addEventListener("pagehide", () => {  // the sandbox goes with the page (or after some hours)
  if (sim) fetch(simUrl(), { method: "DELETE", keepalive: true, credentials: "same-origin",
                             headers: { "X-CSRFToken": document.querySelector('meta[name="csrf-token"]').content } });
});

drawDiagram().then(begin);
