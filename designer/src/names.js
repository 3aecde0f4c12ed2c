// The elements' names in zh and en (package.yaml `names`, sent and saved with the draft's XML).
// `liaisonNames` holds the map; changes go through the command stack ('liaison.names.update'), so
// they undo, mark the draft changed (autosave) and redraw the element; the canvas labels show the
// name in the page's language (`LocalizedLabelRenderer`) without touching the BPMN `name`.
import BaseRenderer from 'diagram-js/lib/draw/BaseRenderer';
import CommandInterceptor from 'diagram-js/lib/command/CommandInterceptor';
import { getBusinessObject } from 'bpmn-js/lib/util/ModelUtil';

export const LANGUAGES = ['zh', 'en'];

function cleaned(entry) {
  const kept = {};
  for (const lang of LANGUAGES) {
    const value = entry && typeof entry[lang] === 'string' ? entry[lang].trim() : '';
    if (value) {
      kept[lang] = value;
    }
  }
  return Object.keys(kept).length ? kept : null;
}

/** The names map; `known` is false when the draft sent none (then a save leaves package.yaml's names alone). */
export function LiaisonNames(liaisonContext) {
  const given = liaisonContext.names;
  this.known = !!given && typeof given === 'object';
  this.lang = liaisonContext.lang === 'en' ? 'en' : 'zh';
  this.names = {};
  for (const [id, entry] of Object.entries(this.known ? given : {})) {
    this.set(id, entry);
  }
}

LiaisonNames.$inject = ['liaisonContext'];

LiaisonNames.prototype.get = function(id) {
  return { ...(this.names[id] || {}) };
};

LiaisonNames.prototype.set = function(id, entry) {
  const kept = cleaned(entry);
  if (kept) {
    this.names[id] = kept;
  } else {
    delete this.names[id];
  }
};

/** The name of `element` in the page's language, or '' (then the BPMN name is shown). */
LiaisonNames.prototype.localized = function(element) {
  const bo = element && element.businessObject;
  return (bo && bo.id && (this.names[bo.id] || {})[this.lang]) || '';
};

/** What a save sends as `names`; undefined when the draft sent none and nothing was edited. */
LiaisonNames.prototype.toJSON = function() {
  return this.known ? JSON.parse(JSON.stringify(this.names)) : undefined;
};

function changedElements(elementRegistry, id) {
  const element = elementRegistry.get(id);
  return element ? [element, ...(element.labels || [])] : [];
}

/** 'liaison.names.update' {element, lang, value}: one language of one element's names. */
function UpdateNamesHandler(liaisonNames, elementRegistry, modeling) {
  this.execute = context => {
    const id = getBusinessObject(context.element).id;
    context.id = id;
    context.old = liaisonNames.get(id);
    liaisonNames.known = true;
    liaisonNames.set(id, { ...context.old, [context.lang]: context.value });
    return changedElements(elementRegistry, id);
  };
  this.revert = context => {
    liaisonNames.set(context.id, context.old);
    return changedElements(elementRegistry, context.id);
  };
  // An empty BPMN name takes the new name (Camunda Modeler then shows one), and keeps following it while
  // it equals this language's earlier name (the panel writes as one types).
  this.postExecute = context => {
    const bo = getBusinessObject(context.element);
    const value = (context.value || '').trim();
    const before = context.old[context.lang] || '';
    if (value && (!bo.name || bo.name === before) && bo.name !== value) {
      modeling.updateProperties(context.element, { name: value });
    }
  };
}

UpdateNamesHandler.$inject = ['liaisonNames', 'elementRegistry', 'modeling'];

/** 'liaison.names.rename' {oldId, newId}: an element's names follow a change of its id. */
function RenameNamesHandler(liaisonNames) {
  this.execute = context => {
    liaisonNames.set(context.newId, liaisonNames.get(context.oldId));
    liaisonNames.set(context.oldId, null);
    return [];
  };
  this.revert = context => {
    liaisonNames.set(context.oldId, liaisonNames.get(context.newId));
    liaisonNames.set(context.newId, null);
    return [];
  };
}

RenameNamesHandler.$inject = ['liaisonNames'];

function NamesCommands(eventBus, commandStack, liaisonNames) {
  CommandInterceptor.call(this, eventBus);
  commandStack.registerHandler('liaison.names.update', UpdateNamesHandler);
  commandStack.registerHandler('liaison.names.rename', RenameNamesHandler);
  this.postExecute('element.updateProperties', event => {
    const { properties, oldProperties } = event.context;
    const oldId = oldProperties && oldProperties.id;
    if (properties.id && oldId && properties.id !== oldId && Object.keys(liaisonNames.get(oldId)).length) {
      commandStack.execute('liaison.names.rename', { oldId, newId: properties.id });
    }
  });
}

NamesCommands.prototype = Object.create(CommandInterceptor.prototype);
NamesCommands.$inject = ['eventBus', 'commandStack', 'liaisonNames'];

const LABEL_PRIORITY = 1500; // before bpmn-js's own renderer (1000), which it calls

/** Draws an element that has a name in the page's language with that name as its label: the BPMN
 * `name` is swapped for the draw call only, so the diagram (and the saved XML) keep their own. */
function LocalizedLabelRenderer(eventBus, bpmnRenderer, liaisonNames) {
  BaseRenderer.call(this, eventBus, LABEL_PRIORITY);
  const drawn = (element, draw) => {
    const bo = element.businessObject;
    const own = Object.prototype.hasOwnProperty.call(bo, 'name');
    const name = bo.name;
    bo.name = liaisonNames.localized(element);
    try {
      return draw();
    } finally {
      if (own) {
        bo.name = name;
      } else {
        delete bo.name;
      }
    }
  };
  this.canRender = element => !!liaisonNames.localized(element) && bpmnRenderer.canRender(element);
  this.drawShape = (parent, element) => drawn(element, () => bpmnRenderer.drawShape(parent, element));
  this.drawConnection = (parent, element) => drawn(element, () => bpmnRenderer.drawConnection(parent, element));
  this.getShapePath = element => bpmnRenderer.getShapePath(element);
  this.getConnectionPath = element => bpmnRenderer.getConnectionPath(element);
}

LocalizedLabelRenderer.prototype = Object.create(BaseRenderer.prototype);
LocalizedLabelRenderer.$inject = ['eventBus', 'bpmnRenderer', 'liaisonNames'];

export default {
  __init__: ['liaisonNamesCommands', 'liaisonLabelRenderer'],
  liaisonNames: ['type', LiaisonNames],
  liaisonNamesCommands: ['type', NamesCommands],
  liaisonLabelRenderer: ['type', LocalizedLabelRenderer]
};
