// The chain editor page (/designer/KEY/flow): draws the chain as cards, edits it in a side drawer,
// autosaves it (PUT flow.json), marks problems, previews the approvers, deploys.
import { api, debounce, h, saveOnLeave, text } from "./dom.js";
import { BRANCHING, KINDS, addBranch, conditionSummary, newNode, nodeSummary, usernamesIn } from "./chain.js";
import { drawerContent } from "./drawer.js";
import { loadNames, searchBox } from "./pickers.js";

const root = document.getElementById("flow-editor");
const L = JSON.parse(document.getElementById("flow-labels").textContent);
const lang = root.dataset.lang || "zh";
const status = document.getElementById("flow-status");
const drawer = document.getElementById("flow-drawer");
const drawerBody = document.getElementById("flow-drawer-body");
const drawerTitle = document.getElementById("flow-drawer-title");
const deployButton = document.getElementById("flow-deploy");

let state = null; // flow.json: {revision, chain, forms, start_fields, operators, roles, operations, problems, can_deploy}
let target = null; // what the drawer shows
let blocked = false; // a conflict: stop saving until reload
let saving = null;
const ctx = { names: {}, departments: {} };

function say(message, kind = "") {
  status.textContent = message;
  status.dataset.state = kind;
}

const env = {
  L, lang, ctx,
  peopleUrl: root.dataset.peopleUrl, departmentsUrl: root.dataset.departmentsUrl,
  get chain() { return state.chain; },
  changed() { draw(); scheduleSave(); },
  reopen() { if (target) openDrawer(target); },
};

// -- saving ---------------------------------------------------------------------------------------

async function save(options = {}) {
  if (blocked) return;
  if (saving) { await saving; }
  say(L.saving, "saving");
  saving = api(root.dataset.flowUrl, "PUT", { revision: state.revision, chain: state.chain }, options);
  const { status: code, body } = await saving;
  saving = null;
  if (code === 200) {
    state.revision = body.revision;
    state.problems = body.problems || [];
    say(L.saved, "saved");
    draw();
  } else if (code === 409) {
    blocked = true;
    say(body.error || L.conflict, "error");
  } else {
    say(`${L.save_failed}: ${body.error || code}`, "error");
  }
}

const scheduleSave = debounce(save, 800);
saveOnLeave(scheduleSave, () => saving !== null);

async function flushSave() {
  if (scheduleSave.pending()) await scheduleSave.flush();
  if (saving) await saving;
}

// -- drawing --------------------------------------------------------------------------------------

function problemsOf(id) {
  return (state.problems || []).filter((p) => p.node_id === id);
}

function plus(list, index) {
  const menu = h("div", { class: "flow-menu", role: "menu", hidden: true },
    KINDS.map((kind) => h("button", { type: "button", role: "menuitem", class: `flow-menu-${kind}`, dataset: { kind },
      onclick: () => {
        const node = newNode(state.chain, kind, ctx, L);
        list.splice(index, 0, node);
        env.changed();
        if (!BRANCHING.includes(kind)) openDrawer({ type: "node", node });
      } }, L[kind])));
  const button = h("button", { type: "button", class: "flow-plus", "aria-label": L.add, "aria-haspopup": "menu",
    onclick: (e) => {
      e.stopPropagation();
      const opening = menu.hidden;
      document.querySelectorAll(".flow-menu").forEach((m) => { m.hidden = true; });
      menu.hidden = !opening;
    } }, "+");
  return h("div", { class: "flow-gap" }, h("span", { class: "flow-line" }), button, menu);
}

function card(kind, id, title, summary, onOpen, onDelete) {
  const problems = problemsOf(id);
  return h("div", { class: `flow-card flow-${kind}${problems.length ? " has-problem" : ""}`, dataset: { nodeId: id, kind },
                    tabindex: 0, role: "button", "aria-label": title,
                    onclick: onOpen, onkeydown: (e) => { if (e.key === "Enter") onOpen(); } },
    h("div", { class: "flow-card-head" }, h("span", { class: "flow-card-kind" }, L[kind] || kind),
      onDelete ? h("button", { type: "button", class: "flow-delete", "aria-label": `${L.delete} ${title}`,
                                onclick: (e) => { e.stopPropagation(); onDelete(); } }, "×") : ""),
    h("div", { class: "flow-card-title" }, title),
    h("div", { class: "flow-card-summary" }, summary),
    problems.length ? h("ul", { class: "flow-card-problems" }, problems.map((p) => h("li", {}, p.message))) : "");
}

function remove(list, node) {
  const at = list.indexOf(node);
  if (at >= 0) list.splice(at, 1);
  if (target && (target.node === node)) closeDrawer();
  env.changed();
}

function drawList(list) {
  const column = [plus(list, 0)];
  list.forEach((node, index) => {
    const summary = nodeSummary(node, ctx, L);
    if (BRANCHING.includes(node.kind)) {
      column.push(drawBranches(list, node));
    } else {
      column.push(card(node.kind, node.id, text(node.name, lang) || node.id, summary,
        () => openDrawer({ type: "node", node }), () => remove(list, node)));
    }
    column.push(plus(list, index + 1));
  });
  return column;
}

function drawBranches(list, node) {
  const lanes = node.branches.map((branch, i) => {
    const last = i === node.branches.length - 1;
    const summary = node.kind === "parallel" ? "" : last ? L.other_cases : conditionSummary(branch.condition, ctx, L);
    const removable = node.branches.length > 2 && !(last && node.kind !== "parallel");
    return h("div", { class: "flow-lane" },
      card("branch", branch.id, text(branch.name, lang) || branch.id, summary, () => openDrawer({ type: "branch", node, branch }),
        removable ? () => { node.branches.splice(i, 1); env.changed(); } : null),
      ...drawList(branch.nodes));
  });
  const problems = problemsOf(node.id);
  return h("div", { class: `flow-split${problems.length ? " has-problem" : ""}`, dataset: { nodeId: node.id, kind: node.kind } },
    h("div", { class: "flow-split-head" }, h("span", { class: "flow-card-kind" }, L[node.kind]),
      text(node.name, lang) !== L[node.kind] ? h("span", {}, text(node.name, lang)) : "",
      h("button", { type: "button", class: "secondary flow-add-branch", onclick: () => { addBranch(state.chain, node, L); env.changed(); } }, L.add_branch),
      h("button", { type: "button", class: "flow-delete", "aria-label": `${L.delete} ${text(node.name, lang)}`, onclick: () => remove(list, node) }, "×")),
    problems.length ? h("ul", { class: "flow-card-problems" }, problems.map((p) => h("li", {}, p.message))) : "",
    h("div", { class: "flow-lanes" }, lanes));
}

function draw() {
  const start = state.chain.start || {};
  const starters = start.starters;
  const who = starters ? [...(starters.roles || []).map((r) => (state.roles.find((x) => x.key === r) || { label: r }).label),
    ...(starters.departments || []).map((d) => ctx.departments[d] || d), ...(starters.users || []).map((u) => ctx.names[u] || u)].join("、") : L.everyone;
  root.replaceChildren(h("div", { class: "flow-chain" },
    card("start", start.id, text(start.name, lang) || L.start, who, () => openDrawer({ type: "start" }), null),
    ...drawList(state.chain.nodes),
    h("div", { class: "flow-end", dataset: { nodeId: "end" } }, L.end)));
  if (target) root.querySelectorAll(`[data-node-id="${CSS.escape(targetId(target))}"]`).forEach((el) => el.classList.add("selected"));
  drawProblems();
}

function targetId(t) {
  return t.type === "start" ? state.chain.start.id : t.type === "branch" ? t.branch.id : t.node.id;
}

function drawProblems() {
  const list = document.getElementById("flow-problems");
  const problems = state.problems || [];
  list.replaceChildren(...(problems.length ? problems.map((p) => h("li", { class: `flow-problem ${p.severity || "error"}`, dataset: { nodeId: p.node_id || "" } },
    p.node_id ? h("code", {}, p.node_id) : "", " ", p.message)) : [h("li", {}, L.no_problems)]));
}

function openDrawer(t) {
  target = t;
  document.getElementById("flow-preview").hidden = true;
  drawerTitle.textContent = t.type === "start" ? L.start : t.type === "branch" ? L.branch : L[t.node.kind];
  drawerBody.replaceChildren(...drawerContent(t, env));
  drawer.hidden = false;
  draw();
}

function closeDrawer() {
  target = null;
  drawer.hidden = true;
  draw();
}

// -- preview --------------------------------------------------------------------------------------

function openPreview() {
  closeDrawer();
  const panel = document.getElementById("flow-preview");
  const body = document.getElementById("flow-preview-body");
  let initiator = null;
  const values = {};
  const chosen = h("strong", { "data-testid": "preview-initiator" }, "");
  const result = h("ol", { class: "flow-preview-steps" });
  const fields = state.start_fields.map((f) => {
    const numeric = ["number", "money", "rating"].includes(f.type);
    const control = f.options && f.options.length
      ? h("select", { dataset: { field: f.name }, onchange: (e) => { values[f.name] = e.target.value === "" ? undefined : f.options[Number(e.target.value)].value; } },
        h("option", { value: "" }, "—"), f.options.map((o, i) => h("option", { value: i }, o.label)))
      : h("input", { type: numeric ? "number" : f.type === "date" ? "date" : "text", dataset: { field: f.name },
        onchange: (e) => { values[f.name] = numeric && e.target.value !== "" ? Number(e.target.value) : e.target.value; } });
    return h("div", { class: "flow-row" }, h("label", {}, h("span", { class: "flow-label" }, f.label), control));
  });
  const run = async () => {
    await flushSave();
    const { status: code, body: answer } = await api(root.dataset.previewUrl, "POST", { initiator, data: values, chain: state.chain });
    if (code !== 200) {
      result.replaceChildren(h("li", { class: "error" }, answer.error || String(code)));
      return;
    }
    result.replaceChildren(...answer.steps.map((s) => h("li", { dataset: { nodeId: s.node_id } },
      h("strong", {}, s.name), " — ",
      s.skipped ? L.skipped : [...s.people, ...s.groups].join("、") || L.nobody,
      s.mode ? ` · ${L[`mode_${s.mode}`] || s.mode}` : "",
      s.problem ? h("small", { class: "error" }, ` ${s.problem}`) : "",
      s.conditional ? h("small", {}, ` · ${L.undecided}: ${s.conditional}`) : "")));
  };
  body.replaceChildren(
    h("div", { class: "flow-row" }, h("span", { class: "flow-label" }, L.sample_initiator), chosen,
      searchBox(root.dataset.peopleUrl, L.search_people, (hit) => { initiator = hit.value; chosen.textContent = hit.label; }, "preview-people")),
    ...fields,
    h("button", { type: "button", class: "primary", id: "flow-preview-run", onclick: run }, L.run_preview),
    result);
  panel.hidden = false;
}

// -- deploy ---------------------------------------------------------------------------------------

function setUpDeploy() {
  const dialog = document.getElementById("flow-deploy-dialog");
  if (!deployButton || !dialog) return;
  deployButton.disabled = !state.can_deploy;
  deployButton.addEventListener("click", async () => {
    await flushSave();
    dialog.showModal();
  });
  dialog.addEventListener("close", async () => {
    if (dialog.returnValue !== "deploy") return;
    const comment = document.getElementById("flow-deploy-comment").value;
    const { status: code, body } = await api(root.dataset.deployUrl, "POST", { revision: state.revision, comment });
    if (code === 200) {
      say(L.deployed.replace("{n}", body.version), "saved");
    } else {
      if (body.problems) {
        state.problems = body.problems.map((p) => ({ node_id: p.element_id, message: p.message, severity: p.severity }));
        draw();
      }
      say(body.error || String(code), "error");
    }
  });
}

// -- start ----------------------------------------------------------------------------------------

async function load() {
  say(L.loading);
  const { status: code, body } = await api(root.dataset.flowUrl);
  if (code !== 200) {
    say(body.error || String(code), "error");
    return;
  }
  state = body;
  Object.assign(ctx, { forms: body.forms, form_titles: body.form_titles || {}, start_fields: body.start_fields,
                       operators: body.operators,
                       roles: body.roles, operations: body.operations });
  await loadNames(root.dataset.peopleUrl, usernamesIn(state.chain), ctx.names);
  draw();
  say(L.saved, "saved");
  setUpDeploy();
  document.getElementById("flow-drawer-close").addEventListener("click", closeDrawer);
  document.getElementById("flow-preview-close").addEventListener("click", () => { document.getElementById("flow-preview").hidden = true; });
  const previewButton = document.getElementById("flow-preview-open");
  if (previewButton) previewButton.addEventListener("click", openPreview);
  document.addEventListener("click", (e) => {
    if (!e.target.closest(".flow-gap")) document.querySelectorAll(".flow-menu").forEach((m) => { m.hidden = true; });
  });
  root.dataset.ready = "true";
}

load();
