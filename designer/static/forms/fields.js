// The form builder's field rules (no DOM): new fields per type, unique names, list moves, options text.

export const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

const STARTERS = {
  select: () => ({ options: ["a", "b"] }),
  radio: () => ({ options: ["a", "b"] }),
  checkboxes: () => ({ options: ["a", "b"] }),
  table: () => ({ columns: [{ name: "item", type: "text" }] }),
  quiz: () => ({ kind: "single", options: ["a", "b"], answer: "a", points: 10 }),
  serial: () => ({ pattern: "{yyyy}{mm}-{seq:4}" }),
  formula: () => ({ expression: "0" }),
  notice: () => ({ content: { zh: "说明", en: "Notice" } }),
};

export function uniqueName(fields, base) {
  const taken = new Set(fields.map((f) => f.name));
  let stem = String(base || "field").replace(/[^A-Za-z0-9_]/g, "_");
  if (!IDENTIFIER.test(stem)) stem = `f_${stem}`;
  if (!taken.has(stem)) return stem;
  for (let n = 2; ; n += 1) if (!taken.has(`${stem}_${n}`)) return `${stem}_${n}`;
}

export function newField(fields, type, typeLabel) {
  const name = uniqueName(fields, type);
  return { name, type, label: { zh: typeLabel || name, en: name }, ...(STARTERS[type] ? STARTERS[type]() : {}) };
}

export function duplicate(fields, index) {
  const copy = JSON.parse(JSON.stringify(fields[index]));
  copy.name = uniqueName(fields, copy.name);
  fields.splice(index + 1, 0, copy);
  return index + 1;
}

export function move(fields, index, delta) {
  const to = index + delta;
  if (to < 0 || to >= fields.length) return index;
  const [field] = fields.splice(index, 1);
  fields.splice(to, 0, field);
  return to;
}

// "value|中文|English" lines <-> options (a plain value when there is no label)
export function optionsToText(options) {
  return (options || []).map((o) => {
    if (o && typeof o === "object") {
      const label = o.label && typeof o.label === "object" ? o.label : { zh: o.label || "", en: o.label || "" };
      return [String(o.value), label.zh || "", label.en || ""].join("|");
    }
    return String(o);
  }).join("\n");
}

function plainValue(text) {
  if (text === "true") return true;
  if (text === "false") return false;
  return text;
}

export function textToOptions(text) {
  return String(text).split("\n").map((line) => line.trim()).filter(Boolean).map((line) => {
    const [value, zh, en] = line.split("|").map((part) => part.trim());
    if (zh === undefined) return value;
    return { value: plainValue(value), label: { zh: zh || value, en: en || zh || value } };
  });
}

// table columns as "name|type|中文|English|expression" lines
export function columnsToText(columns) {
  return (columns || []).map((c) => {
    const label = c.label && typeof c.label === "object" ? c.label : { zh: c.label || "", en: c.label || "" };
    return [c.name, c.type || "text", label.zh || "", label.en || "", c.expression || ""].join("|").replace(/\|+$/, "");
  }).join("\n");
}

export function textToColumns(text, old) {
  const before = Object.fromEntries((old || []).map((c) => [c.name, c]));
  return String(text).split("\n").map((line) => line.trim()).filter(Boolean).map((line) => {
    const [name, type, zh, en, expression] = line.split("|").map((part) => part.trim());
    const column = { ...(before[name] || {}), name, type: type || "text" };
    if (zh || en) column.label = { zh: zh || en, en: en || zh }; else delete column.label;
    if (expression) column.expression = expression; else delete column.expression;
    return column;
  });
}

// the access grid: node -> {field: mode} read from / written into the schema's `access`
export function accessGrid(schema, nodes) {
  const grid = {};
  const rules = schema.access || {};
  for (const node of nodes) {
    if (node.kind !== "task") continue;
    const rule = rules[node.id];
    grid[node.id] = {};
    for (const field of schema.fields || []) {
      let mode = "editable";
      if (rule) mode = (rule.editable || []).includes(field.name) ? "editable" : "readonly";
      if (rule && (rule.hidden || []).includes(field.name)) mode = "hidden";
      grid[node.id][field.name] = mode;
    }
  }
  return grid;
}

export function applyGrid(schema, grid) {
  const names = (schema.fields || []).map((f) => f.name);
  const access = {};
  for (const [node, modes] of Object.entries(grid)) {
    if (names.every((n) => (modes[n] || "editable") === "editable")) continue;
    const rule = { editable: names.filter((n) => (modes[n] || "editable") === "editable") };
    const hidden = names.filter((n) => modes[n] === "hidden");
    if (hidden.length) rule.hidden = hidden;
    access[node] = rule;
  }
  const others = Object.fromEntries(Object.entries(schema.access || {}).filter(([node]) => !(node in grid)));
  Object.assign(access, others);
  if (Object.keys(access).length) schema.access = access; else delete schema.access;
}
