// A branch's condition: rows of field / operator (by the field's type) / value, in groups.
// The structured form is the server's (engine/packages/chain/conditions.py).
import { h } from "./dom.js";
import { conditionSummary } from "./chain.js";

const NO_VALUE = ["empty", "not_empty"];
const LISTS = ["in", "not_in"];
const NUMERIC = ["number", "money", "rating", "formula"];

function operatorsOf(field, ctx) {
  if (!field) return [];
  return ctx.operators[field.type + (field.multiple ? "*" : "")] || ctx.operators[field.type] || ["==", "!="];
}

function parse(field, raw) {
  if (field && NUMERIC.includes(field.type) && raw !== "" && !Number.isNaN(Number(raw))) return Number(raw);
  return raw;
}

function valueControl(leaf, field, onValue) {
  if (NO_VALUE.includes(leaf.op)) return h("span");
  const options = (field && field.options) || [];
  if (options.length && !LISTS.includes(leaf.op)) {
    const at = options.findIndex((o) => JSON.stringify(o.value) === JSON.stringify(leaf.value));
    return h("select", { "aria-label": "value", "data-testid": "cond-value", onchange: (e) => onValue(e.target.value === "" ? null : options[Number(e.target.value)].value) },
      h("option", { value: "" }, "—"), options.map((o, i) => h("option", { value: i, selected: i === at }, o.label)));
  }
  const shown = Array.isArray(leaf.value) ? leaf.value.join(", ") : (leaf.value ?? "");
  return h("input", { type: "text", value: shown, "aria-label": "value", "data-testid": "cond-value",
    onchange: (e) => {
      const raw = e.target.value.trim();
      onValue(LISTS.includes(leaf.op) ? raw.split(/[,，]/).map((v) => parse(field, v.trim())).filter((v) => v !== "") : parse(field, raw));
    } });
}

// The builder edits what DingTalk's does: condition groups joined by "or", each group's conditions
// joined by "and" ({any: [{all: [leaf, ...]}, leaf, ...]}), or one group of conditions joined by "and"
// or by "or". Deeper nesting (written by hand in BPMN) is shown as text and kept as it is.
function groupsOf(condition) {
  if (!condition) return { join: "all", groups: [] };
  if (condition.all) {
    if (condition.all.some((c) => c.all || c.any)) return null;
    return { join: "all", groups: [condition.all.slice()] };
  }
  if (condition.any) {
    if (condition.any.some((c) => c.any || (c.all && c.all.some((d) => d.all || d.any)))) return null;
    if (condition.any.some((c) => c.all)) return { join: "groups", groups: condition.any.map((c) => (c.all ? c.all.slice() : [c])) };
    return { join: "any", groups: [condition.any.slice()] };
  }
  return { join: "all", groups: [[condition]] };
}

function conditionOf(join, groups) {
  const kept = groups.filter((g) => g.length);
  if (kept.length === 0) return null;
  if (kept.length > 1) return { any: kept.map((g) => (g.length === 1 ? g[0] : { all: g })) };
  const leaves = kept[0];
  return leaves.length === 1 ? leaves[0] : { [join === "any" ? "any" : "all"]: leaves };
}

function leafRow(leaves, i, env, save, draw) {
  const { L, ctx } = env;
  const leaf = leaves[i];
  const field = ctx.start_fields.find((f) => f.name === leaf.field);
  const ops = operatorsOf(field, ctx);
  return h("div", { class: "flow-cond-row" },
    h("select", { "aria-label": L.field, "data-testid": "cond-field", onchange: (e) => {
      const next = ctx.start_fields.find((f) => f.name === e.target.value);
      const nextOps = operatorsOf(next, ctx);
      leaves[i] = { field: e.target.value, op: nextOps.includes(leaf.op) ? leaf.op : nextOps[0] };
      if (!NO_VALUE.includes(leaves[i].op) && leaf.value !== undefined) leaves[i].value = leaf.value;
      save(); draw();
    } }, h("option", { value: "" }, "—"), ctx.start_fields.map((f) => h("option", { value: f.name, selected: f.name === leaf.field }, f.label))),
    h("select", { "aria-label": L.operator, "data-testid": "cond-op", onchange: (e) => {
      leaves[i] = { ...leaf, op: e.target.value };
      if (NO_VALUE.includes(e.target.value)) delete leaves[i].value;
      save(); draw();
    } }, ops.map((op) => h("option", { value: op, selected: op === leaf.op }, op))),
    valueControl(leaf, field, (value) => { leaves[i] = { ...leaves[i], value }; save(); }),
    h("button", { type: "button", class: "flow-chip-x", "aria-label": L.delete,
                  onclick: () => { leaves.splice(i, 1); save(); draw(); } }, "×"));
}

function newLeaf(ctx) {
  const first = ctx.start_fields[0];
  return { field: first ? first.name : "", op: operatorsOf(first, ctx)[0] || "==" };
}

export function conditionEditor(branch, env) {
  const { L, ctx } = env;
  const box = h("fieldset", { class: "flow-condition" }, h("legend", {}, L.condition));
  const shape = groupsOf(branch.condition);
  if (!shape) {
    box.append(h("p", {}, conditionSummary(branch.condition, ctx, L)));
    return box;
  }
  let { join, groups } = shape;
  const save = () => { branch.condition = conditionOf(join, groups); env.changed(); };
  const draw = () => {
    const parts = [h("legend", {}, L.condition)];
    if (groups.length === 1 && groups[0].length > 1) {
      parts.push(h("select", { "aria-label": "and/or", onchange: (e) => { join = e.target.value; save(); } },
        h("option", { value: "all", selected: join !== "any" }, L.and), h("option", { value: "any", selected: join === "any" }, L.or)));
    }
    groups.forEach((leaves, g) => {
      if (g > 0) parts.push(h("p", { class: "flow-cond-or" }, L.or_group));
      const group = h("div", { class: groups.length > 1 ? "flow-cond-group" : "", "data-testid": "cond-group" },
        ...leaves.map((_, i) => leafRow(leaves, i, env, save, draw)),
        h("button", { type: "button", class: "secondary", "data-testid": "cond-add", onclick: () => {
          leaves.push(newLeaf(ctx)); save(); draw();
        } }, groups.length > 1 ? L.add_condition_and : L.add_condition));
      parts.push(group);
    });
    if (groups.length === 0) {
      parts.push(h("button", { type: "button", class: "secondary", "data-testid": "cond-add", onclick: () => {
        groups.push([newLeaf(ctx)]); save(); draw();
      } }, L.add_condition));
    } else {
      parts.push(h("button", { type: "button", class: "secondary", "data-testid": "cond-add-group", onclick: () => {
        join = "groups"; groups.push([newLeaf(ctx)]); save(); draw();
      } }, L.add_group));
    }
    box.replaceChildren(...parts);
  };
  draw();
  return box;
}
