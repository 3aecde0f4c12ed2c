// The side drawer: the settings of the start, of a node, or of a branch. Edits change the chain in place
// and call `env.changed()` (the page redraws the cards and autosaves).
import { h, text } from "./dom.js";
import { parseRule, ruleSummary } from "./chain.js";
import { searchBox } from "./pickers.js";
import { conditionEditor } from "./conditions.js";

const RULE_KINDS = ["users", "role", "department", "department_head", "manager", "initiator", "picked", "expr"];
const CC_KINDS = ["users", "role", "department", "department_head", "manager", "initiator"];
// liaison:allow (engine/runtime/node_rules.py): absent = every operation, "" = none of them
const OPERATIONS = ["return", "transfer", "delegate", "addSigner", "removeSigner"];
const RETURN_TO = ["", "previous", "initiator", "initiator,previous", "any"];

function set(obj, key, value) {
  if (value === "" || value === null || value === undefined || (Array.isArray(value) && !value.length)) delete obj[key];
  else obj[key] = value;
}

// The package's forms as choices: the title people read, the key beside it.
function formChoices(ctx) {
  return Object.keys(ctx.forms).map((f) => [f, ctx.form_titles && ctx.form_titles[f] ? `${ctx.form_titles[f]} (${f})` : f]);
}

function row(label, ...controls) {
  return h("div", { class: "flow-row" }, h("label", {}, h("span", { class: "flow-label" }, label), ...controls));
}

function select(options, current, onChange, attrs = {}) {
  return h("select", { ...attrs, onchange: (e) => onChange(e.target.value) },
    options.map(([value, label]) => h("option", { value, selected: String(value) === String(current ?? "") }, label)));
}

function input(value, onChange, attrs = {}) {
  return h("input", { type: "text", value: value ?? "", ...attrs, onchange: (e) => onChange(e.target.value.trim()) });
}

// The step's name in both languages on every page (editing one language never leaves the other stale).
function nameRow(item, env) {
  const current = (lang) => (item.name && typeof item.name === "object" ? item.name[lang] || "" : text(item.name, lang));
  return h("div", { class: "flow-names" }, ["zh", "en"].map((lang) => row(env.L[`name_${lang}`],
    input(current(lang), (v) => {
      item.name = { zh: current("zh"), en: current("en"), [lang]: v };
      env.changed();
    }, { "data-testid": `node-name-${lang}`, lang }))));
}

// One rule (`users:a,b`, `role:finance`, ...) as a kind select and the kind's own control.
function ruleEditor(rule, kinds, onRule, env) {
  const { L, ctx } = env;
  const box = h("div", { class: "flow-rule" });
  const draw = (current) => {
    const r = parseRule(current);
    const kind = select([["", "—"], ...kinds.map((k) => [k, L[`rule_${k}`]])], r.kind, (k) => {
      onRule(["department_head", "manager", "initiator"].includes(k) ? k : "");  // the others wait for their argument
      drawArg(k, "");
    }, { "data-testid": "rule-kind" });
    const argBox = h("div", { class: "flow-rule-arg" });
    const drawArg = (k, arg) => {
      argBox.replaceChildren();
      if (k === "users") {
        const users = arg ? arg.split(",").filter(Boolean) : [];
        const put = (list) => { onRule(list.length ? `users:${list.join(",")}` : ""); drawArg("users", list.join(",")); };
        argBox.append(h("ul", { class: "flow-chips" }, users.map((u) => h("li", {}, ctx.names[u] || u,
          h("button", { type: "button", class: "flow-chip-x", "aria-label": `${L.delete} ${ctx.names[u] || u}`,
                        onclick: () => put(users.filter((x) => x !== u)) }, "×")))),
        searchBox(env.peopleUrl, L.search_people, (hit) => {
          ctx.names[hit.value] = hit.label;
          if (!users.includes(hit.value)) put([...users, hit.value]);
        }, "people-search"));
      } else if (k === "role") {
        argBox.append(select([["", "—"], ...ctx.roles.map((x) => [x.key, x.label])], arg,
          (v) => onRule(v ? `role:${v}` : ""), { "data-testid": "rule-role" }));
      } else if (k === "department" || k === "department_head") {
        const code = arg.replace(/\+$/, "");
        argBox.append(h("span", { class: "flow-picked" }, code ? (ctx.departments[code] || code) : (k === "department_head" ? L.rule_initiator : "")),
          searchBox(env.departmentsUrl, L.search_departments, (hit) => {
            ctx.departments[hit.value] = hit.label;
            const value = `${k}:${hit.value}${k === "department" && arg.endsWith("+") ? "+" : ""}`;
            onRule(value); drawArg(k, value.slice(k.length + 1));
          }, "department-search"));
      } else if (k === "manager") {
        argBox.append(row(L.level, h("input", { type: "number", min: 1, max: 20, value: arg || 1,
          onchange: (e) => onRule(Number(e.target.value) > 1 ? `manager:${Number(e.target.value)}` : "manager") })));
      } else if (k === "picked") {
        const people = ctx.start_fields.filter((f) => ["user", "text", "select"].includes(f.type));
        argBox.append(select([["", "—"], ...people.map((f) => [f.name, f.label])], arg, (v) => onRule(v ? `picked:${v}` : "")));
      } else if (k === "expr") {
        argBox.append(input(arg, (v) => onRule(v ? `expr:${v}` : "")));
      }
    };
    box.replaceChildren(kind, argBox);
    drawArg(r.kind, r.arg);
  };
  draw(rule);
  return box;
}

function personTask(node, env) {
  const { L, ctx } = env;
  const parts = [nameRow(node, env),
    h("fieldset", {}, h("legend", {}, L.rule), ruleEditor(node.approvers, RULE_KINDS, (v) => { set(node, "approvers", v); env.changed(); }, env))];
  if (node.kind === "approver") {
    const vote = h("div", { hidden: node.mode !== "vote" },
      row(L.weights, input(node.voteWeights, (v) => { set(node, "voteWeights", v); env.changed(); }, { placeholder: "ceo:3" })),
      row(L.threshold, input(node.voteThreshold, (v) => { set(node, "voteThreshold", v); env.changed(); }, { placeholder: "0.5" })));
    parts.push(row(L.mode, select([["", L.default], ...["sequential", "all", "any", "vote"].map((m) => [m, L[`mode_${m}`]])],
      node.mode, (v) => { set(node, "mode", v); vote.hidden = v !== "vote"; env.changed(); }, { "data-testid": "mode" })), vote);
  }
  parts.push(
    row(L.empty, select([["", L.default], ...["fail", "skip", "admin"].map((v) => [v, L[`empty_${v}`]])],
      node.approversEmpty, (v) => { set(node, "approversEmpty", v); env.changed(); })),
    row(L.self, select([["", L.default], ...["allow", "skip", "manager"].map((v) => [v, L[`self_${v}`]])],
      node.selfApproval, (v) => { set(node, "selfApproval", v); env.changed(); })),
    ...["dueDate", "remindAfter", "escalateAfter", "timeoutAfter"].map((key, i) =>
      row(L[["due", "remind", "escalate", "timeout"][i]], input(node[key], (v) => { set(node, key, v); env.changed(); }, { placeholder: "P2D" }))),
    row(L.timeout_action, select([["", L.default], ...["approve", "reject"].map((v) => [v, L[`timeout_${v}`]])],
      node.timeoutAction,
      (v) => { set(node, "timeoutAction", v); env.changed(); })),
    row(L.form, select([["", L.none], ...formChoices(ctx)], node.form,
      (v) => { set(node, "form", v); env.changed(); env.reopen(); })),
    allowedOperations(node, env),
    fieldGrid(node, env));
  return parts;
}

// What the node's holder may do besides deciding: checkboxes (allow) and where a return may go (returnTo).
function allowedOperations(node, env) {
  const { L } = env;
  const allowed = () => (node.allow === undefined ? [...OPERATIONS]
    : String(node.allow).split(/[\s,]+/).filter((op) => OPERATIONS.includes(op)));
  const targetRow = h("div", { hidden: !allowed().includes("return") });
  const put = (op, on) => {
    const next = OPERATIONS.filter((x) => (x === op ? on : allowed().includes(x)));
    if (next.length === OPERATIONS.length) delete node.allow;
    else node.allow = next.join(",");  // "" too: nothing allowed
    if (!next.includes("return")) delete node.returnTo;
    targetRow.hidden = !next.includes("return");
    env.changed();
  };
  const labels = { return: L.allow_return, transfer: L.allow_transfer, delegate: L.allow_delegate,
                   addSigner: L.allow_add_signer, removeSigner: L.allow_remove_signer };
  const boxes = OPERATIONS.map((op) => h("label", {}, h("input", {
    type: "checkbox", checked: allowed().includes(op), dataset: { operation: op },
    onchange: (e) => put(op, e.target.checked),
  }), labels[op]));
  const options = RETURN_TO.map((v) => [v, L[`return_to_${v.replace(",", "_") || "default"}`]]);
  if (node.returnTo && !RETURN_TO.includes(node.returnTo)) options.push([node.returnTo, node.returnTo]);
  targetRow.append(row(L.return_to, select(options, node.returnTo,
    (v) => { set(node, "returnTo", v); env.changed(); }, { "data-testid": "return-to" })));
  return h("fieldset", { "data-testid": "allowed-operations" }, h("legend", {}, L.allowed_operations),
    h("div", { class: "flow-checks" }, boxes), targetRow);
}

// The DingTalk grid: each field of the node's form and of the start form, default / editable / read-only / hidden.
function fieldGrid(node, env) {
  const { L, ctx } = env;
  const own = ctx.forms[node.form] || [];
  const startForm = env.chain.start && env.chain.start.form;
  const fields = [...own, ...(ctx.forms[startForm] || []).filter((f) => !own.some((o) => o.name === f.name))];
  const modes = ["", "editable", "readonly", "hidden"];
  const table = h("table", { class: "flow-grid" },
    h("thead", {}, h("tr", {}, h("th", {}, L.field), modes.map((m) => h("th", {}, m ? L[m] : L.default)))),
    h("tbody", {}, fields.map((f) => h("tr", { dataset: { field: f.name } }, h("th", {}, f.label),
      modes.map((m) => h("td", {}, h("input", {
        type: "radio", name: `perm-${node.id}-${f.name}`, value: m, "aria-label": `${f.label}: ${m ? L[m] : L.default}`,
        checked: ((node.fields || {})[f.name] || "") === m,
        onchange: () => {
          const perms = { ...(node.fields || {}) };
          if (m) perms[f.name] = m; else delete perms[f.name];
          set(node, "fields", Object.keys(perms).length ? perms : null);
          env.changed();
        },
      })))))));
  return h("fieldset", {}, h("legend", {}, L.fields), fields.length ? table : L.none);
}

function ccNode(node, env) {
  const { L, ctx } = env;
  const list = h("ul", { class: "flow-chips" });
  const draw = () => list.replaceChildren(...(node.to || []).map((rule, i) => h("li", {}, ruleSummary(rule, ctx, L),
    h("button", { type: "button", class: "flow-chip-x", "aria-label": L.delete,
                  onclick: () => { node.to.splice(i, 1); draw(); env.changed(); } }, "×"))));
  draw();
  let pending = "";
  const adder = ruleEditor("", CC_KINDS, (v) => { pending = v; }, env);
  const add = h("button", { type: "button", class: "secondary", "data-testid": "cc-add",
    onclick: () => { if (pending) { node.to = [...(node.to || []), pending]; pending = ""; draw(); env.changed(); } } }, L.add);
  return [nameRow(node, env), h("fieldset", {}, h("legend", {}, L.cc_to), list, adder, add),
    row(L.when, select([["reach", L.when_reach], ["finish", L.when_finish]], node.when || "reach",
      (v) => { node.when = v; env.changed(); }))];
}

function delayNode(node, env) {
  const { L, ctx } = env;
  const dates = ctx.start_fields.filter((f) => f.type === "date" || f.type === "datetime");
  return [nameRow(node, env),
    row(L.duration, input(node.duration, (v) => { set(node, "duration", v); env.changed(); })),
    row(L.date_field, select([["", "—"], ...dates.map((f) => [f.name, f.label])], node.date_field,
      (v) => { set(node, "date_field", v); env.changed(); }))];
}

function triggerNode(node, env) {
  const { L, ctx } = env;
  return [nameRow(node, env),
    row(L.operation, select([["", "—"], ...(ctx.operations || []).map((o) => [o, o])], node.operation,
      (v) => { set(node, "operation", v); env.changed(); })),
    row(L.message, input(node.message, (v) => { set(node, "message", v); env.changed(); }))];
}

function startNode(start, env) {
  const { L, ctx } = env;
  const starters = start.starters || {};
  const put = (key, list) => {
    const next = { ...(start.starters || {}) };
    set(next, key, list);
    set(start, "starters", Object.keys(next).length ? next : null);
    env.changed(); env.reopen();
  };
  const chips = (key, label) => h("ul", { class: "flow-chips" }, (starters[key] || []).map((v) => h("li", {}, label(v),
    h("button", { type: "button", class: "flow-chip-x", "aria-label": L.delete, onclick: () => put(key, starters[key].filter((x) => x !== v)) }, "×"))));
  return [nameRow(start, env),
    row(L.start_form, select([["", L.none], ...formChoices(ctx)], start.form,
      (v) => { set(start, "form", v); env.changed(); })),
    h("fieldset", {}, h("legend", {}, `${L.starters} (${Object.keys(starters).length ? "" : L.everyone})`),
      h("p", {}, L.roles), h("div", { class: "flow-checks" }, ctx.roles.map((r) => h("label", {}, h("input", {
        type: "checkbox", checked: (starters.roles || []).includes(r.key),
        onchange: (e) => put("roles", e.target.checked ? [...(starters.roles || []), r.key] : (starters.roles || []).filter((x) => x !== r.key)),
      }), r.label))),
      h("p", {}, L.departments), chips("departments", (c) => ctx.departments[c] || c),
      searchBox(env.departmentsUrl, L.search_departments, (hit) => { ctx.departments[hit.value] = hit.label; put("departments", [...new Set([...(starters.departments || []), hit.value])]); }),
      h("p", {}, L.people), chips("users", (u) => ctx.names[u] || u),
      searchBox(env.peopleUrl, L.search_people, (hit) => { ctx.names[hit.value] = hit.label; put("users", [...new Set([...(starters.users || []), hit.value])]); }))];
}

function branchSettings(node, branch, env) {
  const last = node.branches[node.branches.length - 1] === branch;
  const parts = [nameRow(branch, env)];
  if (node.kind !== "parallel") {
    parts.push(last ? h("p", { class: "flow-hint" }, env.L.other_cases)
      : conditionEditor(branch, env));
  }
  return parts;
}

// The drawer's content for `target`: {type: "start"} | {type: "node", node} | {type: "branch", node, branch}.
export function drawerContent(target, env) {
  if (target.type === "start") return startNode(env.chain.start, env);
  if (target.type === "branch") return branchSettings(target.node, target.branch, env);
  const node = target.node;
  if (node.kind === "approver" || node.kind === "handler") return personTask(node, env);
  if (node.kind === "cc") return ccNode(node, env);
  if (node.kind === "delay") return delayNode(node, env);
  if (node.kind === "trigger") return triggerNode(node, env);
  return [nameRow(node, env)];
}
