// The chain as data (the server's model: engine/packages/chain/__init__.py): ids, new nodes, summaries.

export const KINDS = ["approver", "handler", "cc", "condition", "parallel", "inclusive", "delay", "trigger"];
export const BRANCHING = ["condition", "parallel", "inclusive"];
const SUFFIXES = ["_decided", "_rejected", "_join"];

export function* walk(nodes) {
  for (const node of nodes || []) {
    yield node;
    for (const branch of node.branches || []) yield* walk(branch.nodes);
  }
}

export function allIds(chain) {
  const ids = new Set([chain.start && chain.start.id, "end"]);
  for (const node of walk(chain.nodes)) {
    ids.add(node.id);
    for (const branch of node.branches || []) ids.add(branch.id);
  }
  return ids;
}

export function newId(chain, prefix) {
  const ids = allIds(chain);
  for (let n = 1; ; n += 1) {
    const id = `${prefix}_${n}`;
    if (!ids.has(id) && !SUFFIXES.some((s) => id.endsWith(s))) return id;
  }
}

function decisionForm(ctx) {
  return Object.keys(ctx.forms).find((name) => ctx.forms[name].some((f) => f.name === "approved"));
}

function words(L, kind, suffix = "") {
  const names = (L.kind_names && L.kind_names[kind]) || { zh: L[kind], en: L[kind] };
  return { zh: `${names.zh}${suffix}`, en: `${names.en}${suffix}` };
}

function branch(chain, L, number, condition) {
  const made = { id: newId(chain, "branch"), name: words(L, "branch", ` ${number}`), nodes: [] };
  if (condition !== undefined) made.condition = condition;
  return made;
}

// A new node of `kind` with the least that makes it whole (its rule is left to the drawer).
export function newNode(chain, kind, ctx, L) {
  const id = newId(chain, kind);
  const node = { kind, id, name: words(L, kind) };
  if (kind === "approver") {
    const form = decisionForm(ctx);
    if (form) node.form = form;
  } else if (kind === "cc") {
    node.to = [];
    node.when = "reach";
  } else if (kind === "delay") {
    node.duration = "P1D";
  } else if (kind === "trigger") {
    node.message = "notify";
  } else if (BRANCHING.includes(kind)) {
    const scratch = { ...chain, nodes: [...(chain.nodes || []), node] };
    const condition = kind === "parallel" ? undefined : null;
    node.branches = [branch(scratch, L, 1, condition)];
    const second = branch(scratch, L, 2, condition);
    if (kind !== "parallel") second.name = words(L, "other_cases");
    node.branches.push(second);
  }
  return node;
}

export function addBranch(chain, node, L) {
  const number = node.branches.length + (node.kind === "parallel" ? 1 : 0);
  const made = branch(chain, L, number, node.kind === "parallel" ? undefined : null);
  if (node.kind === "parallel") node.branches.push(made);
  else node.branches.splice(node.branches.length - 1, 0, made);
  return made;
}

export function parseRule(rule) {
  const text = (rule || "").trim();
  const at = text.indexOf(":");
  return at < 0 ? { kind: text, arg: "" } : { kind: text.slice(0, at), arg: text.slice(at + 1) };
}

export function usernamesIn(chain) {
  const found = new Set();
  const add = (rule) => { const r = parseRule(rule); if (r.kind === "users") r.arg.split(",").filter(Boolean).forEach((u) => found.add(u)); };
  for (const node of walk(chain.nodes)) {
    if (node.approvers) add(node.approvers);
    (node.to || []).forEach(add);
  }
  ((chain.start && chain.start.starters && chain.start.starters.users) || []).forEach((u) => found.add(u));
  return [...found];
}

// "部门负责人", "张三、李四", "财务": a rule in words, people by display name.
export function ruleSummary(rule, ctx, L) {
  const r = parseRule(rule);
  if (!r.kind) return L.no_rule;
  const role = (key) => (ctx.roles.find((x) => x.key === key) || { label: key }).label;
  switch (r.kind) {
    case "users": return r.arg.split(",").filter(Boolean).map((u) => ctx.names[u] || u).join("、");
    case "role": return r.arg.split(",").map(role).join("、");
    case "department": return `${L.rule_department} ${ctx.departments[r.arg.replace(/\+$/, "")] || r.arg}`;
    case "department_head": return r.arg ? `${L.rule_department_head} (${ctx.departments[r.arg] || r.arg})` : L.rule_department_head;
    case "manager": {  // 直属上级 / 第 2 级上级, as DingTalk words it (not "Nth manager 1")
      const level = Number(r.arg || 1);
      return level === 1 ? L.rule_manager_1 : L.rule_manager_n.replace("%(n)s", String(level));
    }
    case "initiator": return L.rule_initiator;
    case "picked": {
      const field = ctx.start_fields.find((f) => f.name === r.arg);
      return `${L.rule_field}: ${field ? field.label : r.arg}`;
    }
    case "expr": return `${L.rule_expression}: ${r.arg}`;
    default: return rule;
  }
}

const OP_WORDS = { "==": "=", "!=": "≠", ">": ">", ">=": "≥", "<": "<", "<=": "≤", in: "∈", not_in: "∉", contains: "∋", empty: "= ∅", not_empty: "≠ ∅" };

export function conditionSummary(condition, ctx, L) {
  if (!condition) return L.other_cases;
  const parts = condition.all || condition.any;
  if (parts) {  // a group inside a group is put in brackets: (a & b) | c
    return parts.map((c) => ((c.all || c.any) ? `(${conditionSummary(c, ctx, L)})` : conditionSummary(c, ctx, L)))
      .join(condition.all ? " & " : " | ");
  }
  const field = ctx.start_fields.find((f) => f.name === condition.field);
  const value = Array.isArray(condition.value) ? condition.value.join(", ") : (condition.value ?? "");
  return `${field ? field.label : condition.field} ${OP_WORDS[condition.op] || condition.op} ${value}`.trim();
}

export const MODE_WORDS = { sequential: "mode_sequential", all: "mode_all", any: "mode_any", vote: "mode_vote" };

export function nodeSummary(node, ctx, L) {
  switch (node.kind) {
    case "approver": case "handler": {
      const who = ruleSummary(node.approvers, ctx, L);
      return node.mode ? `${who} · ${L[MODE_WORDS[node.mode]] || node.mode}` : who;
    }
    case "cc": {
      const who = (node.to || []).map((r) => ruleSummary(r, ctx, L)).join("、") || L.no_rule;
      return `${who} · ${node.when === "finish" ? L.when_finish : L.when_reach}`;
    }
    case "delay": return node.duration || `${L.date_field}: ${node.date_field || ""}`;
    case "trigger": return node.operation ? `${L.operation}: ${node.operation}` : `${L.message}: ${node.message || ""}`;
    default: return "";
  }
}
