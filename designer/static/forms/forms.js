// The form builder page (/designer/KEY/forms?form=NAME): palette, field list, property panel, access grid,
// live preview (the server's own renderer) and the YAML source, autosaved with the draft's revision.
import { api, debounce, h, saveOnLeave, text } from "../flow/dom.js";
import { accessGrid, applyGrid, duplicate, move, newField } from "./fields.js";
import { propertyPanel } from "./panel.js";

const root = document.getElementById("form-builder");
const L = JSON.parse(document.getElementById("fb-labels").textContent);
const lang = root.dataset.lang || "zh";
const status = document.getElementById("fb-status");
const list = document.getElementById("fb-field-list");
const properties = document.getElementById("fb-properties");
const yamlBox = document.getElementById("fb-yaml");
const yamlProblems = document.getElementById("fb-yaml-problems");
const previewFrame = document.getElementById("fb-preview-frame");
const previewNode = document.getElementById("fb-preview-node");

let state = null; // {revision, schema, yaml, nodes, problems, types}
let selected = -1;
let blocked = false;
let saving = null;
let previewLang = lang;

function say(message, kind = "") {
  status.textContent = message;
  status.dataset.state = kind;
}

function fields() {
  if (!Array.isArray(state.schema.fields)) state.schema.fields = [];
  return state.schema.fields;
}

// -- saving ---------------------------------------------------------------------------------------

async function save(body, options = {}) {
  if (blocked) return;
  if (saving) await saving;
  say(L.saving, "saving");
  saving = api(root.dataset.formUrl, "PUT", { revision: state.revision, ...body }, options);
  const { status: code, body: answer } = await saving;
  saving = null;
  if (code === 200) {
    state.revision = answer.revision;
    state.problems = answer.problems || [];
    state.yaml = answer.yaml;
    if (body.yaml !== undefined && answer.schema) { state.schema = answer.schema; selected = Math.min(selected, fields().length - 1); drawAll(); }
    if (document.activeElement !== yamlBox) yamlBox.value = state.yaml;
    drawProblems();
    say(L.saved, "saved");
  } else if (code === 409) {
    blocked = true;
    say(answer.error || L.conflict, "error");
  } else {
    say(`${L.save_failed}: ${answer.error || code}`, "error");
  }
}

const scheduleSave = debounce((options) => save({ schema: state.schema }, options), 800);
saveOnLeave(scheduleSave, () => saving !== null);
const schedulePreview = debounce(preview, 500);

function changed(redrawList = false) {
  if (redrawList) drawList();
  scheduleSave();
  schedulePreview();
}

// -- the field list -------------------------------------------------------------------------------

function select(index) {
  selected = index;
  drawList();
  drawPanel();
  const current = list.querySelector(".fb-field.selected .fb-field-main");
  if (current) current.focus();
}

function typeLabel(type) {
  const found = (state.types || []).find((t) => t.type === type);
  return found ? found.label : type;
}

function drawList() {
  list.replaceChildren(...fields().map((field, index) => {
    const main = h("button", { type: "button", class: "fb-field-main", "aria-pressed": index === selected ? "true" : "false",
      onclick: () => select(index) },
    h("span", { class: "fb-field-label" }, text(field.label || field.question || field.name, lang)),
    h("code", {}, field.name), h("span", { class: "fb-field-type" }, typeLabel(field.type)));
    const tools = index === selected ? h("span", { class: "fb-field-tools" },
      h("button", { type: "button", class: "secondary fb-up", onclick: () => { select(move(fields(), index, -1)); changed(); } }, L.up),
      h("button", { type: "button", class: "secondary fb-down", onclick: () => { select(move(fields(), index, 1)); changed(); } }, L.down),
      h("button", { type: "button", class: "secondary fb-duplicate", onclick: () => { select(duplicate(fields(), index)); changed(); } }, L.duplicate),
      h("button", { type: "button", class: "secondary fb-delete", onclick: () => remove(index) }, L.delete)) : null;
    return h("li", { class: `fb-field${index === selected ? " selected" : ""}`, draggable: "true",
      dataset: { name: field.name, index: String(index) } }, main, tools);
  }));
  drawAccess();
}

function remove(index) {
  fields().splice(index, 1);
  selected = Math.min(index, fields().length - 1);
  select(selected);
  changed();
}

list.addEventListener("keydown", (event) => {
  if (selected < 0 || event.target.closest(".fb-field-tools")) return;
  if (event.altKey && (event.key === "ArrowUp" || event.key === "ArrowDown")) {
    event.preventDefault();
    select(move(fields(), selected, event.key === "ArrowUp" ? -1 : 1));
    changed();
  } else if (event.key === "ArrowUp" || event.key === "ArrowDown") {
    event.preventDefault();
    select(Math.max(0, Math.min(fields().length - 1, selected + (event.key === "ArrowUp" ? -1 : 1))));
  } else if (event.key === "Delete") {
    event.preventDefault();
    remove(selected);
  }
});

let dragged = null;
list.addEventListener("dragstart", (event) => { dragged = Number(event.target.closest(".fb-field")?.dataset.index); });
list.addEventListener("dragover", (event) => event.preventDefault());
list.addEventListener("drop", (event) => {
  event.preventDefault();
  const target = event.target.closest(".fb-field");
  if (!target || dragged === null || Number.isNaN(dragged)) return;
  const to = Number(target.dataset.index);
  const [field] = fields().splice(dragged, 1);
  fields().splice(to, 0, field);
  dragged = null;
  select(to);
  changed();
});

for (const button of document.querySelectorAll(".fb-add")) {
  button.addEventListener("click", () => {
    const field = newField(fields(), button.dataset.type, typeLabel(button.dataset.type));
    const at = selected >= 0 ? selected + 1 : fields().length;
    fields().splice(at, 0, field);
    select(at);
    changed();
  });
}

function drawPanel() {
  if (selected < 0 || !fields()[selected]) { properties.replaceChildren(); return; }
  properties.replaceChildren(propertyPanel({ L, field: fields()[selected], fields: fields(), index: selected,
    checkUrl: root.dataset.checkUrl, changed }));
}

// -- access grid ----------------------------------------------------------------------------------

function drawAccess() {
  const box = document.getElementById("fb-access-grid");
  const tasks = (state.nodes || []).filter((n) => n.kind === "task");
  const grid = accessGrid(state.schema, tasks);
  if (!tasks.length) { box.replaceChildren(h("p", { class: "fb-hint" }, L.no_tasks)); return; }
  const head = h("tr", {}, h("th", { scope: "col" }, L.field), tasks.map((t) => h("th", { scope: "col" }, t.name, " ", h("code", {}, t.id))));
  const rows = fields().map((field) => h("tr", {}, h("th", { scope: "row" }, field.name), tasks.map((task) => {
    const choice = h("select", { "aria-label": `${field.name} · ${task.name}`, dataset: { node: task.id, field: field.name } },
      ["editable", "readonly", "hidden"].map((mode) => h("option", { value: mode, selected: grid[task.id][field.name] === mode }, L[mode])));
    choice.addEventListener("change", () => {
      grid[task.id][field.name] = choice.value;
      applyGrid(state.schema, grid);
      changed();
    });
    return h("td", {}, choice);
  })));
  box.replaceChildren(h("table", { class: "fb-grid" }, h("thead", {}, head), h("tbody", {}, rows)));
}

// -- preview and YAML -----------------------------------------------------------------------------

async function preview() {
  const { status: code, body } = await api(root.dataset.previewUrl, "POST",
    { schema: state.schema, values: {}, lang: previewLang, node: previewNode.value || null });
  if (code !== 200) return;
  if (body.problems && body.problems.length) {
    previewFrame.replaceChildren(h("ul", { class: "fb-problems" }, body.problems.map((p) => h("li", {}, p))));
  } else {
    previewFrame.innerHTML = body.html; // the server's own forms renderer (autoescaped); CSP blocks any script
    const form = previewFrame.querySelector("form[data-liaison-form]");
    if (form && window.LiaisonForms) window.LiaisonForms.init(form); // conditions, formulas, table rows live
  }
}

previewFrame.addEventListener("submit", (event) => event.preventDefault()); // a preview is never posted

function pressed(id, on) { document.getElementById(id).setAttribute("aria-pressed", on ? "true" : "false"); }

function previewTools() {
  for (const [id, value] of [["fb-preview-zh", "zh"], ["fb-preview-en", "en"]]) {
    document.getElementById(id).addEventListener("click", () => {
      previewLang = value;
      pressed("fb-preview-zh", value === "zh");
      pressed("fb-preview-en", value === "en");
      preview();
    });
  }
  for (const [id, phone] of [["fb-preview-desktop", false], ["fb-preview-phone", true]]) {
    document.getElementById(id).addEventListener("click", () => {
      previewFrame.classList.toggle("phone", phone);
      pressed("fb-preview-desktop", !phone);
      pressed("fb-preview-phone", phone);
    });
  }
  const tasks = (state.nodes || []).filter((n) => n.kind === "task");
  previewNode.replaceChildren(h("option", { value: "" }, L.start),
    ...tasks.map((n) => h("option", { value: n.id }, `${n.name} (${n.id})`)));
  previewNode.addEventListener("change", preview);
}

function goToLine(line) {
  const lines = yamlBox.value.split("\n");
  const start = lines.slice(0, line - 1).reduce((sum, text) => sum + text.length + 1, 0);
  yamlBox.focus();
  yamlBox.setSelectionRange(start, start + (lines[line - 1] || "").length);
}

function drawProblems() {
  yamlProblems.replaceChildren(...(state.problems || []).map((p) => h("li", { class: "fb-problem", dataset: { line: p.line ?? "" } },
    p.line ? h("button", { type: "button", class: "fb-line", onclick: () => goToLine(p.line) }, L.line.replace("{n}", p.line)) : "",
    p.line ? ": " : "", p.message)));
  if (!(state.problems || []).length) yamlProblems.append(h("li", { class: "fb-ok" }, L.no_problems));
}

document.getElementById("fb-yaml-apply").addEventListener("click", async () => {
  scheduleSave.flush();
  await save({ yaml: yamlBox.value });
  schedulePreview();
});

function drawAll() {
  drawList();
  drawPanel();
}

async function load() {
  say(L.loading);
  const { status: code, body } = await api(root.dataset.formUrl);
  if (code !== 200) { say(body.error || String(code), "error"); return; }
  state = body;
  if (!state.schema || typeof state.schema !== "object") state.schema = { fields: [] };
  selected = fields().length ? 0 : -1;
  yamlBox.value = state.yaml;
  previewTools();
  drawAll();
  drawProblems();
  preview();
  say(L.saved, "saved");
  root.dataset.ready = "true";
}

load();
