// A branch's condition: rows of field / operator (by the field's type) / value, joined by and / or.
// The structured form is the server's (engine/packages/chain/conditions.py); nested groups show as text.
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

export function conditionEditor(branch, env) {
  const { L, ctx } = env;
  const box = h("fieldset", { class: "flow-condition" }, h("legend", {}, L.condition));
  const current = branch.condition;
  const nested = current && (current.all || current.any || []).some((c) => c.all || c.any);
  if (nested) {
    box.append(h("p", {}, conditionSummary(current, ctx, L)));
    return box;
  }
  let join = current && current.any ? "any" : "all";
  let leaves = !current ? [] : current.all || current.any || [current];
  const save = () => {
    branch.condition = leaves.length === 0 ? null : leaves.length === 1 ? leaves[0] : { [join]: leaves };
    env.changed();
  };
  const draw = () => {
    const rows = leaves.map((leaf, i) => {
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
    });
    const joiner = h("select", { "aria-label": "and/or", onchange: (e) => { join = e.target.value; save(); } },
      h("option", { value: "all", selected: join === "all" }, L.and), h("option", { value: "any", selected: join === "any" }, L.or));
    box.replaceChildren(h("legend", {}, L.condition), leaves.length > 1 ? joiner : "", ...rows,
      h("button", { type: "button", class: "secondary", "data-testid": "cond-add", onclick: () => {
        const first = ctx.start_fields[0];
        leaves = [...leaves, { field: first ? first.name : "", op: operatorsOf(first, ctx)[0] || "==" }];
        save(); draw();
      } }, L.add_condition));
  };
  draw();
  return box;
}
