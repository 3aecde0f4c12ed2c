// The "External portal" group on the process (issue 17): package.yaml `portal` as a small form, saved with
// the draft's XML like the names (editor.js sends `liaisonPortal.toJSON()` with every PUT; the server keeps
// the section's other keys: engine.packages.drafts.with_portal). Edits go through the command stack
// ('liaison.portal.update': undo, autosave). Whether the values make sense is the deploy check's
// (engine/packages/portal_checks.py); its problems come back in the problem list.
import { jsx } from '@bpmn-io/properties-panel/preact/jsx-runtime';
import { SelectEntry, TextFieldEntry, CheckboxEntry } from '@bpmn-io/properties-panel';
import { useService } from 'bpmn-js-properties-panel';
import { is } from 'bpmn-js/lib/util/ModelUtil';
import { EXTERNAL_KINDS } from './external.js';
import { withCurrent, entry } from './entries.js';

export const PORTAL_KEYS = ['party', 'party_field', 'email_field', 'name_field', 'visible_fields', 'start',
  'link_days', 'invite'];

/** The section's values; `known` is false when the draft sent none (then a save leaves package.yaml alone). */
export function LiaisonPortal(liaisonContext) {
  const given = liaisonContext.portal;
  this.known = !!given && typeof given === 'object' && !Array.isArray(given);
  this.values = {};
  for (const key of PORTAL_KEYS) {
    if (this.known && given[key] !== undefined && given[key] !== null) {
      this.values[key] = given[key];
    }
  }
}

LiaisonPortal.$inject = ['liaisonContext'];

LiaisonPortal.prototype.get = function(key) {
  return this.values[key];
};

LiaisonPortal.prototype.set = function(key, value) {
  if (value === undefined || value === null || value === '' || value === false) {
    delete this.values[key];
  } else {
    this.values[key] = value;
  }
};

/** What a save sends as `portal`; undefined when the draft sent none. */
LiaisonPortal.prototype.toJSON = function() {
  return this.known ? JSON.parse(JSON.stringify(this.values)) : undefined;
};

/** 'liaison.portal.update' {element, key, value}: one setting of the section. */
function UpdatePortalHandler(liaisonPortal) {
  this.execute = context => {
    context.old = liaisonPortal.get(context.key);
    liaisonPortal.known = true;
    liaisonPortal.set(context.key, context.value);
    return [context.element];
  };
  this.revert = context => {
    liaisonPortal.set(context.key, context.old);
    return [context.element];
  };
}

UpdatePortalHandler.$inject = ['liaisonPortal'];

function PortalCommands(commandStack) {
  commandStack.registerHandler('liaison.portal.update', UpdatePortalHandler);
}

PortalCommands.$inject = ['commandStack'];

export const PortalModule = {
  __init__: ['liaisonPortalCommands'],
  liaisonPortal: ['type', LiaisonPortal],
  liaisonPortalCommands: ['type', PortalCommands]
};

function usePortal(element, key) {
  const portal = useService('liaisonPortal');
  const commandStack = useService('commandStack');
  return [portal.get(key), value => commandStack.execute('liaison.portal.update', { element, key, value })];
}

function PartyEntry({ element, id }) {
  const translate = useService('translate');
  const [value, setValue] = usePortal(element, 'party');
  return jsx(SelectEntry, {
    element, id, label: translate('External party of this process'),
    description: translate('Who outside the company takes part through the portal'),
    getOptions: () => withCurrent(EXTERNAL_KINDS.map(([kind, label]) => ({ value: kind, label: translate(label) })),
      value ? String(value) : ''),
    getValue: () => (value ? String(value) : ''), setValue
  });
}

// A field list is kept as typed ("a, b") and split by the server; it comes back from the draft as a list.
function textSetting(key, label, description) {
  return function PortalTextEntry({ element, id }) {
    const translate = useService('translate');
    const debounce = useService('debounceInput');
    const [value, setValue] = usePortal(element, key);
    const shown = Array.isArray(value) ? value.join(', ') : value === undefined ? '' : String(value);
    return jsx(TextFieldEntry, {
      element, id, debounce, label: translate(label), description: translate(description),
      getValue: () => shown,
      setValue: typed => setValue((typed || '').trim())
    });
  };
}

function StartEntry({ element, id }) {
  const translate = useService('translate');
  const [value, setValue] = usePortal(element, 'start');
  return jsx(CheckboxEntry, {
    element, id, label: translate('Contacts may start a request from the portal'),
    getValue: () => value === true, setValue: checked => setValue(!!checked)
  });
}

// `invite: employees`, or nothing (the default, `admins`): who may issue invitation codes for the start form
// besides super admins and the package's admins (engine.work.invitations.may_issue_code).
function InviteEntry({ element, id }) {
  const translate = useService('translate');
  const [value, setValue] = usePortal(element, 'invite');
  return jsx(CheckboxEntry, {
    element, id, label: translate('Any employee may invite with a code'),
    description: translate('Otherwise the process admins (and for visitors the reception) issue the codes'),
    getValue: () => value === 'employees', setValue: checked => setValue(checked ? 'employees' : undefined)
  });
}

const SETTINGS = [
  ['party', PartyEntry],
  ['party-field', textSetting('party_field', 'Party field', 'The process data field holding the party key')],
  ['email-field', textSetting('email_field', 'E-mail field', 'The field with the address links are sent to')],
  ['name-field', textSetting('name_field', 'Name field', "The field with the outsider's name (visitors)")],
  ['visible-fields', textSetting('visible_fields', 'Fields shown on the portal',
    'Comma-separated; the outsider sees only these on the progress page')],
  ['start', StartEntry],
  ['link-days', textSetting('link_days', 'Link validity (days)', 'Empty: 14')],
  ['invite', InviteEntry]
];

/** The process (or its pool) carries the package's portal settings. */
export function hasPortal(element) {
  return is(element, 'bpmn:Process') || is(element, 'bpmn:Participant');
}

export function portalEntries(element, portal) {
  return SETTINGS.map(([key, component]) => entry(`liaison-portal-${key}`, component, element, () => {
    const value = portal.get(key.replace('-', '_'));
    return value !== undefined && !(Array.isArray(value) && !value.length);
  }));
}
