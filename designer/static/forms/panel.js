// The form builder's property panel: one field's keys, expressions checked as you type.
import { api, debounce, h } from "../flow/dom.js";
import { IDENTIFIER, columnsToText, optionsToText, textToColumns, textToOptions } from "./fields.js";

const CHOICE = ["select", "radio", "checkboxes"];
const BOUNDED = ["number", "money", "date", "datetime", "rating", "text", "textarea"];
const EXPRESSIONS = ["visible_if", "required_if", "expression"];

function pair(value) {
  if (value && typeof value === "object") return { zh: value.zh || "", en: value.en || "" };
  return { zh: value || "", en: value || "" };
}

function setPair(field, key, lang, text) {
  const value = pair(field[key]);
  value[lang] = text;
  if (!value.zh && !value.en) delete field[key]; else field[key] = value;
}

function setValue(field, key, text, kind = "text") {
  if (text === "" || text === null || text === undefined) { delete field[key]; return; }
  if (kind === "number") {
    const number = Number(text);
    field[key] = Number.isFinite(number) && text.trim() !== "" ? number : text;
  } else field[key] = text;
}

function row(id, label, input, extra = null) {
  input.id = id;
  return h("div", { class: "fb-prop" }, h("label", { for: id }, label), input, extra);
}

// env: {L, field, fields, index, checkUrl, changed(redrawList)}
export function propertyPanel(env) {
  const { L, field } = env;
  const others = () => env.fields.filter((f, i) => i !== env.index).map((f) => f.name);
  const items = [];

  const nameError = h("p", { class: "fb-error", id: "fb-prop-name-error", role: "alert" });
  const nameInput = h("input", { type: "text", value: field.name, "aria-describedby": "fb-prop-name-error",
    autocomplete: "off" });
  nameInput.addEventListener("input", () => {
    const value = nameInput.value.trim();
    let problem = "";
    if (!IDENTIFIER.test(value)) problem = L.name_invalid;
    else if (others().includes(value)) problem = L.name_taken;
    nameError.textContent = problem;
    nameInput.setAttribute("aria-invalid", problem ? "true" : "false");
    if (!problem) { field.name = value; env.changed(true); }
  });
  items.push(row("fb-prop-name", L.name, nameInput, nameError));
  items.push(h("p", { class: "fb-type" }, `${L.type}: `, h("code", {}, field.type)));

  const labelKey = field.type === "quiz" ? "question" : (field.type === "notice" ? "content" : "label");
  for (const [key, zhWord, enWord] of [[labelKey, L.label_zh, L.label_en], ["help", L.help_zh, L.help_en]]) {
    for (const [lang, word] of [["zh", zhWord], ["en", enWord]]) {
      const input = h(key === "content" ? "textarea" : "input", { type: "text", value: pair(field[key])[lang] });
      input.addEventListener("input", () => { setPair(field, key, lang, input.value); env.changed(key === "label"); });
      items.push(row(`fb-prop-${key}-${lang}`, word, input));
    }
  }

  if (!["notice", "formula", "serial"].includes(field.type)) {
    const box = h("input", { type: "checkbox", checked: field.required === true });
    box.addEventListener("change", () => { if (box.checked) field.required = true; else delete field.required; env.changed(); });
    items.push(h("div", { class: "fb-prop fb-check" }, box, h("label", { for: "fb-prop-required" }, L.required)));
    box.id = "fb-prop-required";
  }

  for (const key of EXPRESSIONS) {
    if (key === "expression" && field.type !== "formula") continue;
    if (key === "required_if" && ["notice", "formula", "serial"].includes(field.type)) continue;
    items.push(expressionRow(env, key));
  }

  if (BOUNDED.includes(field.type)) {
    const [low, high] = ["text", "textarea"].includes(field.type) ? ["min_length", "max_length"] : ["min", "max"];
    const kind = ["date", "datetime"].includes(field.type) ? "text" : "number";
    for (const [key, word] of [[low, L.min], [high, L.max]]) {
      const input = h("input", { type: "text", value: field[key] ?? "", inputmode: kind === "number" ? "decimal" : null });
      input.addEventListener("input", () => { setValue(field, key, input.value, kind); env.changed(); });
      items.push(row(`fb-prop-${key}`, word, input));
    }
  }
  if (field.type === "text" || field.type === "serial") {
    const input = h("input", { type: "text", value: field.pattern || "" });
    input.addEventListener("input", () => { setValue(field, "pattern", input.value); env.changed(); });
    items.push(row("fb-prop-pattern", L.pattern, input));
  }
  if (CHOICE.includes(field.type) || field.type === "quiz") {
    const area = h("textarea", { rows: 4, value: optionsToText(field.options) });
    area.addEventListener("input", () => { field.options = textToOptions(area.value); env.changed(); });
    items.push(row("fb-prop-options", L.options, area));
  }
  if (field.type === "quiz") items.push(...quizRows(env));
  if (field.type === "table") items.push(...tableRows(env));
  if (!["notice", "formula", "serial", "table", "quiz"].includes(field.type)) {
    const input = h("input", { type: "text", value: field.default_from || "", placeholder: "initiator.manager" });
    input.addEventListener("input", () => { setValue(field, "default_from", input.value.trim()); env.changed(); });
    items.push(row("fb-prop-default_from", L.default_from, input));
  }
  return h("div", { class: "fb-props" }, items);
}

function expressionRow(env, key) {
  const { L, field } = env;
  const out = h("p", { class: "fb-expr-result", id: `fb-prop-${key}-result`, role: "status" });
  const input = h("input", { type: "text", value: field[key] || "", autocomplete: "off", spellcheck: "false",
    "aria-describedby": `fb-prop-${key}-result` });
  const check = debounce(async () => {
    const expression = input.value.trim();
    if (!expression) { out.textContent = ""; out.dataset.state = ""; return; }
    const names = env.fields.map((f) => f.name);
    const { status, body } = await api(env.checkUrl, "POST", { expression, fields: names });
    if (input.value.trim() !== expression) return;
    const ok = status === 200 && body.ok;
    out.textContent = ok ? L.expression_ok : (body.error || String(status));
    out.dataset.state = ok ? "ok" : "error";
    input.setAttribute("aria-invalid", ok ? "false" : "true");
  }, 400);
  input.addEventListener("input", () => { setValue(field, key, input.value.trim()); env.changed(); check(); });
  if (field[key]) check();
  const words = { visible_if: L.visible_if, required_if: L.required_if, expression: L.expression };
  return row(`fb-prop-${key}`, words[key], input, out);
}

function quizRows(env) {
  const { L, field } = env;
  const kind = h("select", {}, ["single", "multiple", "true_false", "short_answer"].map(
    (k) => h("option", { value: k, selected: field.kind === k }, k)));
  kind.addEventListener("change", () => { field.kind = kind.value; env.changed(); });
  const answer = h("input", { type: "text", value: Array.isArray(field.answer) ? field.answer.join(", ") : String(field.answer ?? "") });
  answer.addEventListener("input", () => {
    const text = answer.value.trim();
    if (field.kind === "multiple" || field.kind === "short_answer") field.answer = text.split(",").map((s) => s.trim()).filter(Boolean);
    else if (field.kind === "true_false") field.answer = text === "true";
    else field.answer = text;
    env.changed();
  });
  const points = h("input", { type: "text", inputmode: "decimal", value: field.points ?? "" });
  points.addEventListener("input", () => { setValue(field, "points", points.value, "number"); env.changed(); });
  return [row("fb-prop-kind", L.type, kind), row("fb-prop-answer", L.answer, answer), row("fb-prop-points", L.points, points)];
}

function tableRows(env) {
  const { L, field } = env;
  const area = h("textarea", { rows: 5, value: columnsToText(field.columns), spellcheck: "false" });
  area.addEventListener("input", () => { field.columns = textToColumns(area.value, field.columns); env.changed(); });
  const sums = h("input", { type: "text", value: (field.sums || []).join(", ") });
  sums.addEventListener("input", () => {
    const list = sums.value.split(",").map((s) => s.trim()).filter(Boolean);
    if (list.length) field.sums = list; else delete field.sums;
    env.changed();
  });
  return [row("fb-prop-columns", L.columns, area, h("p", { class: "fb-hint" }, "name|type|中文|English|expression")),
    row("fb-prop-sums", L.sums, sums)];
}
