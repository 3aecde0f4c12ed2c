/* The package's scenario tests (designer/scenarios.py): a list, a form editor of one test (start data as
   field/value rows, steps, expected outcome) with a raw YAML view, Run / Run all, and the results with the
   token's path drawn on the diagram (bpmn-js viewer, global `BpmnJS` from /vendor/bpmn-viewer.js).
   #scenarios-editor gets data-ready="true" once loaded; #scenarios-diagram data-state "ready"/"marked". */

const editor = document.getElementById('scenarios-editor');
const L = JSON.parse(document.getElementById('scenarios-labels').textContent);
const token = document.querySelector('meta[name="csrf-token"]').getAttribute('content');
const statusBox = document.getElementById('scenarios-status');
const diagramBox = document.getElementById('scenarios-diagram');
const state = { revision: 0, tests: [], fields: [], tasks: [], current: null, file: '', spec: null, yaml: false };
let viewer = null;
let marked = [];

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  Object.entries(attrs || {}).forEach(([k, v]) => {
    if (v === undefined || v === null || v === false) return;
    if (k === 'text') node.textContent = v; else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : v);
  });
  children.flat(Infinity).forEach((c) => { if (c != null) node.append(c); });
  return node;
}

function parseValue(text) {
  const trimmed = String(text).trim();
  if (trimmed === '') return '';
  try { return JSON.parse(trimmed); } catch (err) { return trimmed; }
}

function showValue(value) { return typeof value === 'string' ? value : JSON.stringify(value); }

async function call(method, url, body) {
  const response = await fetch(url, { method, credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', 'X-CSRFToken': token },
    body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await response.json().catch(() => ({}));
  if (response.status === 409) { state.revision = data.revision || state.revision; }
  if (!response.ok) throw new Error(response.status === 409 ? L.conflict : (data.error || response.status));
  return data;
}

function setStatus(text, failed) {
  statusBox.textContent = text;
  statusBox.classList.toggle('error', !!failed);
}

/* field/value rows editing an object in place; `names` offered as a datalist */
function rows(object, names, testid) {
  const listId = `names-${testid}`;
  const body = el('tbody');
  const draw = () => {
    body.replaceChildren(...Object.entries(object).map(([name, value]) => {
      const nameInput = el('input', { type: 'text', value: name, list: listId, 'aria-label': L.field, 'data-role': 'name' });
      const valueInput = el('input', { type: 'text', value: showValue(value), 'aria-label': L.value, 'data-role': 'value' });
      nameInput.addEventListener('change', () => {
        const entries = Object.entries(object).map(([k, v]) => (k === name ? [nameInput.value.trim(), v] : [k, v]));
        Object.keys(object).forEach((k) => delete object[k]);
        entries.forEach(([k, v]) => { if (k) object[k] = v; });
        draw();
      });
      valueInput.addEventListener('change', () => { object[name] = parseValue(valueInput.value); });
      return el('tr', {}, el('td', {}, nameInput), el('td', {}, valueInput),
        el('td', {}, el('button', { type: 'button', class: 'secondary', text: L.remove,
          onclick: () => { delete object[name]; draw(); } })));
    }));
  };
  draw();
  const add = el('button', { type: 'button', class: 'secondary', text: L.add_row, 'data-testid': `${testid}-add`,
    onclick: () => { const free = names.find((n) => !(n in object)) || `field${Object.keys(object).length + 1}`;
      object[free] = ''; draw(); } });
  return el('div', { 'data-testid': testid },
    el('datalist', { id: listId }, names.map((n) => el('option', { value: n }))),
    el('table', {}, el('thead', {}, el('tr', {}, el('th', { text: L.field }), el('th', { text: L.value }), el('th'))), body),
    add);
}

function input(label, value, onchange, attrs) {
  const field = el('input', { type: 'text', value: value || '', ...(attrs || {}) });
  field.addEventListener('change', () => onchange(field.value.trim()));
  return el('label', {}, `${label} `, field);
}

function stepEditor(step, index) {
  step.data = step.data && typeof step.data === 'object' ? step.data : {};
  const task = el('select', { 'aria-label': L.task, 'data-role': 'task' },
    state.tasks.map((t) => el('option', { value: t.id, text: `${t.name} (${t.id})`, selected: t.id === step.task })));
  if (!step.task && state.tasks.length) step.task = state.tasks[0].id;
  task.addEventListener('change', () => { step.task = task.value; });
  const action = el('select', { 'aria-label': L.action, 'data-role': 'action' },
    el('option', { value: '', text: L.none }),
    el('option', { value: 'approve', text: L.approve, selected: step.data.approved === true }),
    el('option', { value: 'reject', text: L.reject, selected: step.data.approved === false }));
  action.addEventListener('change', () => {
    if (action.value) step.data.approved = action.value === 'approve'; else delete step.data.approved;
    draw();
  });
  const fields = Object.values(state.forms || {}).flat().map((f) => f.name);
  return el('fieldset', { 'data-testid': `step-${index + 1}` },
    el('legend', { text: L.step.replace('{n}', index + 1) }),
    el('label', {}, `${L.task} `, task), ' ',
    input(L.user, step.user, (v) => { step.user = v; }, { 'data-role': 'user' }), ' ',
    input(L.groups, (step.groups || []).join(', '), (v) => {
      const groups = v.split(/[\s,]+/).filter(Boolean); if (groups.length) step.groups = groups; else delete step.groups; },
    { 'data-role': 'groups' }), ' ',
    el('label', {}, `${L.action} `, action),
    rows(step.data, fields, `step-${index + 1}-data`),
    input(L.expect_error, step.expect_error, (v) => { if (v) step.expect_error = v; else delete step.expect_error; }),
    el('button', { type: 'button', class: 'secondary', text: L.remove,
      onclick: () => { state.spec.steps.splice(index, 1); draw(); } }));
}

function formView(spec) {
  spec.start = spec.start && typeof spec.start === 'object' ? spec.start : {};
  spec.start.data = spec.start.data && typeof spec.start.data === 'object' ? spec.start.data : {};
  spec.steps = Array.isArray(spec.steps) ? spec.steps : [];
  spec.expect = spec.expect && typeof spec.expect === 'object' ? spec.expect : {};
  const expect = spec.expect;
  expect.data = expect.data && typeof expect.data === 'object' ? expect.data : {};
  const status = el('select', { 'aria-label': L.status, 'data-role': 'status' },
    ['', 'completed', 'running', 'cancelled'].map((s) => el('option', { value: s, text: s ? (L['status_' + s] || s) : L.none, selected: expect.status === s })));
  status.addEventListener('change', () => { if (status.value) expect.status = status.value; else delete expect.status; });
  return [
    input(L.name, spec.name, (v) => { spec.name = v; }, { 'data-role': 'test-name' }),
    el('fieldset', { 'data-testid': 'start' }, el('legend', { text: L.start }),
      input(L.start_user, spec.start.user, (v) => { spec.start.user = v; }, { 'data-role': 'start-user' }),
      rows(spec.start.data, state.fields.map((f) => f.name), 'start-data')),
    el('h3', { text: L.steps }),
    spec.steps.map(stepEditor),
    el('button', { type: 'button', class: 'secondary', text: L.add_step, 'data-testid': 'add-step',
      onclick: () => { spec.steps.push({ task: '', user: '', data: {} }); draw(); } }),
    el('fieldset', { 'data-testid': 'expect' }, el('legend', { text: L.expect }),
      el('label', {}, `${L.status} `, status), ' ',
      input(L.end_event, expect.end_event, (v) => { if (v) expect.end_event = v; else delete expect.end_event; }, { 'data-role': 'end-event' }),
      input(L.path, (expect.path || []).join(', '), (v) => {
        const ids = v.split(/[\s,]+/).filter(Boolean); if (ids.length) expect.path = ids; else delete expect.path; }, { 'data-role': 'path' }),
      el('div', { text: L.expect_data }), rows(expect.data, [], 'expect-data')),
  ];
}

function cleaned(spec) {
  const copy = JSON.parse(JSON.stringify(spec));
  if (copy.start && copy.start.data && !Object.keys(copy.start.data).length) delete copy.start.data;
  if (copy.expect && copy.expect.data && !Object.keys(copy.expect.data).length) delete copy.expect.data;
  (copy.steps || []).forEach((s) => { if (s.data && !Object.keys(s.data).length) delete s.data; });
  return copy;
}

function stable(value) {
  if (Array.isArray(value)) return `[${value.map(stable).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${stable(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/* whether the open test differs from the saved one (Run saves it first only then) */
function changed() {
  const test = state.tests.find((t) => t.file === state.current);
  if (!test || state.file !== state.current) return true;
  if (state.yaml) return editor.querySelector('[data-role=yaml]').value !== test.yaml;
  return !test.spec || stable(cleaned(state.spec)) !== stable(cleaned(formReady(test.spec)));
}

const EMPTY = () => ({ name: '', start: {}, steps: [], expect: {} });

/* whether leaving now would drop typing: a changed test, or a new one with anything in it */
function unsaved() {
  if (state.spec === null) return false;
  if (state.current) return changed();
  if (state.yaml) return !!(editor.querySelector('[data-role=yaml]') || {}).value;
  return state.file !== '' || stable(cleaned(formReady(state.spec))) !== stable(cleaned(formReady(EMPTY())));
}

/* asks before dropping unsaved typing; true when it may go on */
function mayDrop() {
  return !unsaved() || window.confirm(L.unsaved);
}

function formReady(spec) {
  const copy = JSON.parse(JSON.stringify(spec));
  formView(copy);
  return copy;
}

function draw() {
  document.querySelectorAll('#scenarios-list li').forEach((li) => li.classList.toggle('current', li.dataset.file === state.current));
  if (state.spec === null) { editor.replaceChildren(el('p', { text: state.tests.length ? '' : L.no_tests })); return; }
  const file = input(L.file, state.file, (v) => { state.file = v; }, { 'data-role': 'file' });
  const yamlToggle = el('button', { type: 'button', class: 'secondary', text: state.yaml ? L.form : L.yaml,
    'data-testid': 'toggle-yaml', onclick: toggleYaml });
  const body = state.yaml
    ? el('textarea', { class: 'scenario-yaml', 'aria-label': L.yaml, 'data-role': 'yaml' }, state.yamlText || '')
    : formView(state.spec);
  editor.replaceChildren(file, ' ', yamlToggle, el('div', {}, body),
    el('p', {}, el('button', { type: 'button', class: 'primary', text: L.save, 'data-testid': 'save', onclick: save }), ' ',
      el('button', { type: 'button', class: 'secondary', text: L.run, 'data-testid': 'run', onclick: async () => { if (!changed() || await save()) run(state.current); } }), ' ',
      state.current ? el('button', { type: 'button', class: 'secondary', text: L.delete, onclick: remove }) : null));
}

/* the form and the YAML stay in step through the server: a changed test is saved (and re-read) first */
async function toggleYaml() {
  const wasYaml = state.yaml;
  if (changed() && !(await save())) return;
  const test = state.tests.find((t) => t.file === state.current);
  if (wasYaml && test && !test.spec) return;  // YAML the form cannot show
  state.yaml = !wasYaml;
  draw();
}

function drawList() {
  document.getElementById('scenarios-list').replaceChildren(...state.tests.map((t) => el('li', { 'data-file': t.file },
    el('a', { href: '#', text: t.name, onclick: (e) => { e.preventDefault(); if (mayDrop()) select(t.file); } }))));
}

function select(file) {
  const test = state.tests.find((t) => t.file === file);
  state.current = file;
  state.file = file;
  state.spec = test && test.spec ? JSON.parse(JSON.stringify(test.spec)) : EMPTY();
  state.yamlText = test ? test.yaml : '';
  state.yaml = !!test && !test.spec;
  draw();
}

async function save() {
  const file = state.file || 'test';
  const body = { revision: state.revision, old: state.current || undefined };
  if (state.yaml) body.yaml = editor.querySelector('[data-role=yaml]').value; else body.spec = cleaned(state.spec);
  try {
    const data = await call('PUT', editor.dataset.saveUrl + encodeURIComponent(file), body);
    state.revision = data.revision;
    state.tests = data.tests;
    drawList();
    select(file);
    setStatus(L.saved);
    return true;
  } catch (err) { setStatus(`${L.error}: ${err.message}`, true); return false; }
}

async function remove() {
  try {
    const data = await call('DELETE', `${editor.dataset.saveUrl}${encodeURIComponent(state.current)}?revision=${state.revision}`);
    state.revision = data.revision;
    state.tests = data.tests;
    state.current = null; state.spec = null;
    drawList(); draw();
  } catch (err) { setStatus(`${L.error}: ${err.message}`, true); }
}

async function reload() {
  const data = await call('GET', editor.dataset.jsonUrl);
  Object.assign(state, { revision: data.revision, tests: data.tests, fields: data.start_fields, tasks: data.tasks, forms: data.forms });
  drawList();
  if (viewer && data.xml) { await viewer.importXML(data.xml); viewer.get('canvas').zoom('fit-viewport', 'auto'); diagramBox.dataset.state = 'ready'; }
  return data;
}

function markPath(result) {
  if (!viewer || !result) return;
  const canvas = viewer.get('canvas');
  const registry = viewer.get('elementRegistry');
  marked.forEach(([id, marker]) => canvas.removeMarker(id, marker));
  marked = [];
  result.path.forEach((id) => { if (registry.get(id)) { canvas.addMarker(id, 'lf-path'); marked.push([id, 'lf-path']); } });
  const failing = result.steps.find((s) => !s.passed);
  if (failing && registry.get(failing.task)) { canvas.addMarker(failing.task, 'lf-path-failed'); marked.push([failing.task, 'lf-path-failed']); }
  diagramBox.dataset.state = 'marked';
  diagramBox.dataset.marked = String(marked.length);
}

function drawResults(results) {
  const box = document.getElementById('scenarios-results');
  box.replaceChildren(...results.map((r) => el('div', { class: `scenario-result ${r.passed ? 'passed' : 'failed'}`, 'data-file': r.file },
    el('strong', { text: `${r.passed ? '✓' : '✗'} ${r.name} — ${r.passed ? L.passed : L.failed}` }),
    el('ol', {}, r.steps.map((s) => el('li', { class: `scenario-step ${s.passed ? 'passed' : 'failed'}`, 'data-step': s.number },
      `${s.passed ? '✓' : '✗'} ${s.task} · ${s.user}`, s.failures.map((f) => el('div', { text: f }))))),
    r.failures.filter((f) => !r.steps.some((s) => s.failures.includes(f))).map((f) => el('div', { class: 'scenario-failure', text: `${L.outcome}: ${f}` })),
    el('button', { type: 'button', class: 'secondary', text: L.show_path, onclick: () => markPath(r) }))));
  markPath(results.find((r) => !r.passed) || results[0]);
}

async function run(file) {
  setStatus(L.running);
  try {
    await reload();
    const data = await call('POST', editor.dataset.runUrl, file ? { file } : {});
    drawResults(data.results);
    const failed = data.results.filter((r) => !r.passed).length;
    setStatus(failed ? `${L.failed}: ${failed}` : L.passed, failed > 0);
  } catch (err) { setStatus(`${L.error}: ${err.message}`, true); }
}

document.getElementById('scenarios-new').addEventListener('click', () => {
  if (!mayDrop()) return;
  select(null); state.current = null; state.file = ''; draw();
});
window.addEventListener('beforeunload', (event) => { if (unsaved()) event.preventDefault(); });
document.getElementById('scenarios-run-all').addEventListener('click', () => run(undefined));
if (typeof window.BpmnJS === 'function') viewer = new window.BpmnJS({ container: diagramBox });
reload().then(() => {
  if (state.tests.length) select(state.tests[0].file); else draw();
  setStatus('');
  editor.dataset.ready = 'true';
}).catch((err) => setStatus(`${L.error}: ${err.message}`, true));
