// The editor page around the modeler: load the draft, autosave, deploy, and the problem list.
import { requestJSON } from './api.js';
import { translator } from './i18n.js';
import { Problems } from './problems.js';
import { askComment } from './deploy-dialog.js';

const SAVE_DELAY = 1000;

// The page's own element when it has one; else one the bundle adds: status and deploy in a toolbar
// above the modeler, the problem list below it.
function chrome(root, id, tag, className, below = false) {
  let node = document.getElementById(id);
  if (!node && below) {
    node = document.createElement(tag);
    Object.assign(node, { id, className });
    root.append(node);
  } else if (!node) {
    node = document.createElement(tag);
    node.id = id;
    node.className = className;
    let bar = root.querySelector('.ld-toolbar');
    if (!bar) {
      bar = document.createElement('div');
      bar.className = 'ld-toolbar';
      root.prepend(bar);
    }
    bar.append(node);
  }
  return node;
}

/** Boot the editor on `root` (#liaison-designer) from its data-* attributes (the page contract). */
export async function bootEditor(root, open) {
  const data = root.dataset;
  const translate = translator(data.lang === 'zh' ? 'zh' : 'en');
  const status = chrome(root, 'designer-status', 'span', 'ld-status');
  const deployButton = chrome(root, 'designer-deploy', 'button', 'ld-deploy');
  if (!deployButton.textContent.trim()) {
    deployButton.textContent = translate('Deploy');
  }
  deployButton.type = 'button';
  const { status: code, body: draft } = await requestJSON('GET', data.draftUrl);
  if (code !== 200) {
    status.textContent = translate('Could not load the draft: {error}', { error: draft.error || code });
    return null;
  }
  let opened;
  try {
    opened = await open(root, draft.xml, {
      lang: data.lang, draft, peopleUrl: data.peopleUrl, departmentsUrl: data.departmentsUrl
    });
  } catch (error) {
    status.textContent = translate('Could not open the diagram: {error}', { error: error.message });
    return null;
  }
  const { modeler, warnings } = opened;
  const list = chrome(root, 'designer-problems', 'div', 'ld-problems', true);
  deployButton.hidden = draft.can_deploy === false;
  const editor = new DraftEditor({ modeler, data, draft, status, list, translate, deployButton });
  editor.problems.setImport(warnings);
  deployButton.addEventListener('click', () => editor.deploy());
  return editor;
}

export class DraftEditor {
  constructor({ modeler, data, draft, status, list, translate, deployButton = null }) {
    Object.assign(this, { modeler, data, status, translate, deployButton });
    this.canDeploy = draft.can_deploy !== false;
    this.revision = draft.revision;
    this.stopped = false;
    this.dirty = false;
    this.saving = null;
    this.timer = null;
    this.problems = new Problems(modeler, list, translate, () => this.showStatus());
    this.problems.setServer(draft.problems || []);
    this.message = '';
    this.showStatus(translate('Saved'));
    modeler.on('commandStack.changed', () => this.changed());
    window.addEventListener('beforeunload', event => {
      if (this.dirty || this.saving) {
        this.save();
        event.preventDefault(); // the browser asks before leaving with a change not saved yet
      }
    });
  }

  changed() {
    if (this.stopped) {
      return;
    }
    this.dirty = true;
    this.showStatus(this.translate('Not saved'));
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.save(), SAVE_DELAY);
  }

  showStatus(message) {
    if (message !== undefined) {
      this.message = message;
    }
    const count = this.problems.count();
    const problems = count === 1 ? this.translate('1 problem')
      : count ? this.translate('{n} problems', { n: count }) : '';
    this.status.textContent = [this.message, problems].filter(Boolean).join(' · ');
    this.status.dataset.state = this.stopped ? 'stopped' : this.dirty ? 'dirty' : 'saved';
    if (this.deployButton) {
      // the page renders it disabled until the draft is loaded: enabled when allowed and error-free
      this.deployButton.disabled = !this.canDeploy || this.stopped || this.problems.hasErrors();
    }
  }

  stop(error) {
    this.stopped = true;
    clearTimeout(this.timer);
    this.showStatus(`${error} ${this.translate('Autosave stopped: reload the page to see the latest draft.')}`);
  }

  /** PUT the diagram; one request at a time (a change during a save saves again afterwards). */
  async save() {
    clearTimeout(this.timer);
    if (this.saving) {
      await this.saving;
    }
    if (this.stopped || !this.dirty) {
      return;
    }
    this.saving = this.put();
    await this.saving;
    this.saving = null;
  }

  async put() {
    this.dirty = false;
    this.showStatus(this.translate('Saving'));
    const { xml } = await this.modeler.saveXML({ format: true });
    const names = this.modeler.get('liaisonNames', false); // package.yaml names, saved with the XML
    const portal = this.modeler.get('liaisonPortal', false); // package.yaml portal (panel/portal.js)
    const { status, body } = await requestJSON('PUT', this.data.saveUrl, {
      revision: this.revision, xml, names: names ? names.toJSON() : undefined,
      portal: portal ? portal.toJSON() : undefined
    });
    if (status === 200) {
      this.revision = body.revision;
      this.problems.setServer(body.problems || []);
      this.showStatus(this.dirty ? this.translate('Not saved') : this.translate('Saved'));
    } else if (status === 409) {
      this.stop(body.error || '');
    } else {
      this.dirty = true;
      this.showStatus(this.translate('Could not save: {error}', { error: body.error || status }));
    }
  }

  /** Ask a comment, save what is pending, then POST the deploy. */
  async deploy() {
    if (this.stopped) {
      return;
    }
    const comment = await askComment(this.translate);
    if (comment === null) {
      return;
    }
    await this.save();
    if (this.stopped) {
      return;
    }
    const { status, body } = await requestJSON('POST', this.data.deployUrl, { revision: this.revision, comment });
    if (status === 200) {
      this.problems.setServer((body.warnings || []).map(warningProblem));
      this.showStatus(this.translate('Deployed version {version}', { version: body.version }));
      if (body.url) {
        const link = document.createElement('a');
        link.href = body.url;
        link.textContent = this.translate('Versions');
        this.status.append(' ', link);
      }
    } else if (status === 422) {
      this.problems.setServer(body.problems || []);
      this.showStatus(body.error || this.translate('Cannot deploy: fix the problems first'));
    } else if (status === 409) {
      this.stop(body.error || '');
    } else {
      this.showStatus(body.error || String(status));
    }
  }
}

function warningProblem(warning) {
  return typeof warning === 'string' ? { message: warning, severity: 'warning' } : warning;
}
