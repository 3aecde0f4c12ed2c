// Server problems (PROBLEM dicts from the draft endpoints) and bpmnlint issues: canvas markers with a
// badge (message on hover) for the server's, and one clickable list for both.
const SEVERITIES = ['error', 'warning', 'info'];
// Liaison attributes the moddle leaves untyped (their local names clash with camunda's, or they are
// newer than the descriptor): moddle warns "unknown attribute" on import, yet they load, save and run.
const UNTYPED_LIAISON = new Set(['assignee', 'candidateUsers', 'candidateGroups', 'dueDate', 'resultVariable',
  'cc', 'ccWhen']);
const UNKNOWN_ATTRIBUTE = /unknown attribute <liaison:([A-Za-z]+)>/;

/** False for the import warning of a valid, untyped Liaison attribute. */
export function isRealImportWarning(warning) {
  const match = UNKNOWN_ATTRIBUTE.exec(String((warning && warning.message) || warning));
  return !(match && UNTYPED_LIAISON.has(match[1]));
}

export class Problems {
  constructor(modeler, list, translate, onChange) {
    Object.assign(this, { modeler, list, translate, onChange });
    this.server = [];
    this.lint = [];
    this.imported = [];
    this.marked = [];
    this.canvas = modeler.get('canvas');
    this.overlays = modeler.get('overlays');
    this.registry = modeler.get('elementRegistry');
    modeler.on('linting.completed', ({ issues }) => this.setLint(issues));
    modeler.get('linting').update(); // the lint of the import may have finished before this listened
    list.addEventListener('click', event => this.reveal(event));
  }

  /** True when the server reports an error: the draft cannot be deployed. */
  hasErrors() {
    return this.server.some(problem => problem.severity === 'error');
  }

  /** Problems that count in the status line: server errors and warnings plus lint errors and warnings. */
  count() {
    return [...this.server, ...this.imported, ...this.lint].filter(problem => problem.severity !== 'info').length;
  }

  setServer(problems) {
    this.server = problems.map(problem => ({ ...problem, severity: problem.severity || 'error' }));
    this.mark();
    this.render();
  }

  /** What bpmn-js could not hold on import (a duplicate id, a reference to nothing): dropped on save. */
  setImport(warnings) {
    this.imported = (warnings || []).filter(isRealImportWarning).map(warning => ({
      message: this.translate(String(warning.message || warning).split('\n')[0]), severity: 'warning',
      element_id: warning.element && warning.element.id
    }));
    this.render();
  }

  setLint(issues) {
    this.lint = [];
    for (const [elementId, list] of Object.entries(issues || {})) {
      for (const issue of list) {
        this.lint.push({
          element_id: issue.id || elementId, message: this.translate(issue.message), rule: issue.rule,
          severity: issue.category === 'warn' ? 'warning' : issue.category === 'info' ? 'info' : 'error'
        });
      }
    }
    this.render();
  }

  mark() {
    for (const { id, severity } of this.marked) {
      this.canvas.removeMarker(id, `ld-problem-${severity}`);
    }
    this.overlays.remove({ type: 'liaison-problems' });
    this.marked = [];
    const byElement = new Map();
    for (const problem of this.server) {
      if (problem.element_id && this.registry.get(problem.element_id)) {
        byElement.set(problem.element_id, [...(byElement.get(problem.element_id) || []), problem]);
      }
    }
    for (const [id, problems] of byElement) {
      const severity = SEVERITIES.find(level => problems.some(problem => problem.severity === level));
      this.canvas.addMarker(id, `ld-problem-${severity}`);
      this.marked.push({ id, severity });
      const badge = document.createElement('div');
      badge.className = `ld-badge ld-badge-${severity}`;
      badge.textContent = String(problems.length);
      badge.title = problems.map(problem => problem.message).join('\n');
      this.overlays.add(id, 'liaison-problems', { position: { top: -10, right: 10 }, html: badge });
    }
  }

  render() {
    const items = [
      ...this.server.map(problem => ({ ...problem, source: 'server' })),
      ...this.imported.map(problem => ({ ...problem, source: 'import' })),
      ...this.lint.map(problem => ({ ...problem, source: 'lint' }))
    ].sort((a, b) => SEVERITIES.indexOf(a.severity) - SEVERITIES.indexOf(b.severity));
    const ul = document.createElement('ul');
    ul.className = 'ld-problem-list';
    for (const problem of items) {
      ul.append(this.item(problem));
    }
    this.list.replaceChildren(ul);
    this.list.dataset.count = String(items.length);
    this.onChange();
  }

  item(problem) {
    const li = document.createElement('li');
    li.className = `ld-problem ld-problem-item-${problem.severity}`;
    li.dataset.source = problem.source;
    const button = document.createElement('button');
    button.type = 'button';
    if (problem.element_id) {
      button.dataset.elementId = problem.element_id;
    }
    const where = [problem.element_id, problem.line ? this.translate('line {line}', { line: problem.line }) : '',
      problem.rule]
      .filter(Boolean).join(', ');
    const label = document.createElement('strong');
    label.textContent = this.translate(problem.severity);
    button.append(label, ` ${problem.message}`);
    if (where) {
      const small = document.createElement('small');
      small.textContent = ` (${where})`;
      button.append(small);
    }
    li.append(button);
    return li;
  }

  reveal(event) {
    const button = event.target.closest('button[data-element-id]');
    const element = button && this.registry.get(button.dataset.elementId);
    if (!element) {
      return;
    }
    this.modeler.get('selection').select(element);
    if (element.waypoints || element.x !== undefined) {
      this.canvas.scrollToElement(element);
    }
  }
}
