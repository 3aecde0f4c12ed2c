// Liaison's process designer: bpmn-js Modeler + properties panel + Liaison moddle + bpmnlint.
// `open()` builds a modeler in a container (the editor page and the tests use it); on a page with
// #liaison-designer the editor (autosave, deploy, problems) boots by itself from its data-* attributes.
import Modeler from 'bpmn-js/lib/Modeler';
import {
  BpmnPropertiesPanelModule, BpmnPropertiesProviderModule, CamundaPlatformPropertiesProviderModule
} from 'bpmn-js-properties-panel';
import CamundaBehaviorsModule from 'camunda-bpmn-js-behaviors/lib/camunda-platform';
import camundaModdle from 'camunda-bpmn-moddle/resources/camunda.json';
import lintModule from 'bpmn-js-bpmnlint';
import { layoutProcess } from 'bpmn-auto-layout';
import liaisonModdle from './liaison-moddle.json';
import LiaisonPropertiesProviderModule from './panel/index.js';
import HiddenGroupsModule from './hidden-groups.js';
import lintConfig from './lint-config.js';
import { translateModule, translator } from './i18n.js';
import { bootEditor } from './editor.js';

/** The draft's lists the panel offers (forms, start-form fields, roles, operations). */
function contextFrom(draft = {}, options = {}) {
  return {
    forms: draft.forms || {},
    startFields: draft.start_fields || [],
    roles: draft.roles || [],
    operations: draft.operations || [],
    names: draft.names, // the elements' zh/en names (names.js)
    portal: draft.portal, // package.yaml `portal` (panel/portal.js)
    lang: options.lang === 'zh' ? 'zh' : 'en',
    peopleUrl: options.peopleUrl || '',
    departmentsUrl: options.departmentsUrl || ''
  };
}

function div(className) {
  const node = document.createElement('div');
  node.className = className;
  return node;
}

/**
 * Build a modeler inside `container` and import `xml`. Options: lang ('zh'|'en'), draft (the draft
 * JSON: forms, start_fields, roles, operations), peopleUrl, departmentsUrl.
 * Resolves to {modeler, warnings} once the diagram is imported and drawn.
 */
export async function open(container, xml, options = {}) {
  const lang = options.lang === 'zh' ? 'zh' : 'en';
  const workspace = div('ld-workspace');
  const canvas = div('ld-canvas');
  const panel = div('ld-panel');
  workspace.append(canvas, panel);
  container.append(workspace);
  const modeler = new Modeler({
    container: canvas,
    keyboard: { bindTo: options.keyboard || window }, // undo, redo, delete, copy (inputs are ignored)
    propertiesPanel: { parent: panel },
    linting: { bpmnlint: lintConfig, active: true },
    moddleExtensions: { camunda: camundaModdle, liaison: liaisonModdle },
    additionalModules: [
      BpmnPropertiesPanelModule, BpmnPropertiesProviderModule, CamundaPlatformPropertiesProviderModule,
      CamundaBehaviorsModule, lintModule, LiaisonPropertiesProviderModule, HiddenGroupsModule, translateModule(lang),
      { liaisonContext: ['value', contextFrom(options.draft, options)] }
    ]
  });
  const { warnings, laidOut } = await importDrawing(modeler, xml);
  fitWithMargin(modeler.get('canvas'));
  return { modeler, warnings, laidOut, translate: translator(lang) };
}

// Screen pixels kept free around the diagram on opening, besides the palette over the canvas's left edge.
const MARGIN = 40;

/** Show the whole diagram, centred, never larger than 100 %, clear of the palette. */
export function fitWithMargin(canvas) {
  canvas.zoom('fit-viewport');
  const container = canvas.getContainer();
  const palette = container.querySelector('.djs-palette');
  const left = MARGIN + (palette
    ? Math.max(0, palette.getBoundingClientRect().right - container.getBoundingClientRect().left) : 0);
  const { inner, outer } = canvas.viewbox();
  const width = outer.width - left - MARGIN;
  const height = outer.height - 2 * MARGIN;
  if (!(inner.width > 0 && inner.height > 0 && width > 0 && height > 0)) {
    return;
  }
  const scale = Math.min(1, width / inner.width, height / inner.height);
  canvas.viewbox({
    x: inner.x - (left + (width - inner.width * scale) / 2) / scale,
    y: inner.y - (MARGIN + (height - inner.height * scale) / 2) / scale,
    width: outer.width / scale,
    height: outer.height / scale
  });
}

/** Import `xml`; a file without diagram (hand-written, or from a tool that draws none) is laid out first. */
async function importDrawing(modeler, xml) {
  try {
    return { ...(await modeler.importXML(xml)), laidOut: false };
  } catch (error) {
    if (!/no diagram to display/.test(error.message)) {
      throw error;
    }
  }
  return { ...(await modeler.importXML(await layoutProcess(xml))), laidOut: true };
}

window.LiaisonDesigner = { open, bootEditor };

function autoBoot() {
  const root = document.getElementById('liaison-designer');
  if (root) {
    window.LiaisonDesigner.editor = bootEditor(root, open);
  }
}

if (document.readyState === 'loading') {
  document.addEventListener('DOMContentLoaded', autoBoot);
} else {
  autoBoot();
}
