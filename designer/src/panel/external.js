// The "External party" group (issue 17, external portal): which outsider does a user task (or every user
// task of a lane: `liaison:external`), whether a flow node is shown on the outsider's progress timeline
// (`liaison:milestone="true"`), and the reception check-in task that issues a visitor pass (`liaison:pass`).
// An external task has no approvers: it is offered to the party's contacts (candidate group `ext:KIND`), so
// the approver, approval-mode and direct-people groups are left out for it (panel/index.js) and a notice
// says why. The deploy-time checks of these attributes are the engine's (engine/packages/portal_checks.py).
import { jsx, jsxs } from '@bpmn-io/properties-panel/preact/jsx-runtime';
import { SelectEntry, CheckboxEntry } from '@bpmn-io/properties-panel';
import { useService } from 'bpmn-js-properties-panel';
import { getBusinessObject, is } from 'bpmn-js/lib/util/ModelUtil';
import { getAttr, withCurrent, entry } from './entries.js';

const ATTR = 'liaison:external';

/** The kinds of external party (package.yaml `portal.party`), '' = done by employees. */
export const EXTERNAL_KINDS = [['', 'None'], ['supplier', 'Supplier'], ['customer', 'Customer'],
  ['visitor', 'Visitor']];

/** Attributes an external task ignores: the approver rule, approval mode and policies, people named directly. */
export const APPROVAL_ATTRS = [
  'liaison:approvers', 'liaison:approversEmpty', 'liaison:selfApproval', 'liaison:mode', 'liaison:voteThreshold',
  'liaison:voteWeights', 'liaison:allow', 'liaison:returnTo', 'liaison:assignee', 'liaison:candidateUsers',
  'liaison:candidateGroups', 'camunda:assignee', 'camunda:candidateUsers', 'camunda:candidateGroups'
];

/** The nearest lane around a flow node that names an external party, or null. */
function externalLane(bo) {
  for (const lane of bo.get('lanes') || []) {
    for (let node = lane; node; node = node.$parent) {
      if (is(node, 'bpmn:Lane') && node.get(ATTR)) {
        return node;
      }
      if (is(node, 'bpmn:Process') || is(node, 'bpmn:Participant')) {
        break;
      }
    }
  }
  return null;
}

/**
 * Who does a user task: {kind, lane} with the task's own `liaison:external`, else its lane's (lane set);
 * {kind: ''} for an employee's task.
 */
export function externalOf(element) {
  const bo = getBusinessObject(element);
  const own = bo.get(ATTR);
  if (own) {
    return { kind: String(own), lane: null };
  }
  const lane = is(bo, 'bpmn:UserTask') ? externalLane(bo) : null;
  return lane ? { kind: String(lane.get(ATTR)), lane } : { kind: '', lane: null };
}

export function isExternalTask(element) {
  return is(element, 'bpmn:UserTask') && !!externalOf(element).kind;
}

/** Tasks, events and sub-processes may be milestones; a gateway is passed at once, nothing to show. */
export function hasMilestone(element) {
  return is(element, 'bpmn:FlowNode') && !is(element, 'bpmn:Gateway');
}

const kindLabel = kind => (EXTERNAL_KINDS.find(([value]) => value === kind) || [kind, kind])[1];

function ExternalKindEntry({ element, id }) {
  const translate = useService('translate');
  const modeling = useService('modeling');
  const lane = is(element, 'bpmn:Lane');
  const outer = lane ? null : externalLane(getBusinessObject(element)); // a task's lane may name the party
  const inherited = outer ? String(outer.get(ATTR)) : '';
  return jsx(SelectEntry, {
    element, id, label: translate('Done by an external party'),
    description: translate(lane
      ? 'Every user task in this lane is done by the outsider through a portal link; approvers do not apply.'
      : 'The step is done by the outsider through a portal link; approvers do not apply.'),
    getOptions: () => withCurrent(EXTERNAL_KINDS.map(([value, label]) => ({
      value, label: value === '' && inherited ? translate('As its lane: {kind}', { kind: translate(kindLabel(inherited)) })
        : translate(label)
    })), getAttr(element, ATTR)),
    getValue: () => getAttr(element, ATTR),
    setValue: value => modeling.updateProperties(element, { [ATTR]: value || undefined })
  });
}

function Notice({ id, children }) {
  return jsx('div', {
    class: 'bio-properties-panel-entry ld-external-notice', 'data-entry-id': id, 'data-testid': id, children
  });
}

/** On an external task: approvers do not apply (and, when it still holds some, a button that removes them). */
function ExternalTaskNotice({ element, id }) {
  const translate = useService('translate');
  const modeling = useService('modeling');
  const { kind, lane } = externalOf(element);
  const bo = getBusinessObject(element);
  const leftover = APPROVAL_ATTRS.filter(attr => bo.get(attr) !== undefined && bo.get(attr) !== '');
  const lines = [];
  if (lane) {
    lines.push(jsx('p', { children: translate('Its lane "{lane}" makes it a step of the {kind}.', {
      lane: lane.name || lane.id, kind: translate(kindLabel(kind)).toLowerCase()
    }) }));
  }
  lines.push(jsx('p', { children: translate(
    "Approvers, approval mode and people named directly do not apply: the task is offered to the external party's contacts.") }));
  if (leftover.length) {
    lines.push(jsxs('p', { children: [
      translate('This task still holds approver settings, which are ignored.'), ' ',
      jsx('button', {
        type: 'button', class: 'ld-external-clear', 'data-testid': 'liaison-external-clear',
        onClick: () => modeling.updateProperties(element,
          Object.fromEntries(leftover.map(attr => [attr, undefined]))),
        children: translate('Remove them')
      })
    ] }));
  }
  return jsx(Notice, { id, children: lines });
}

function checkbox(attr, label, description) {
  return function LiaisonCheckboxEntry({ element, id }) {
    const translate = useService('translate');
    const modeling = useService('modeling');
    return jsx(CheckboxEntry, {
      element, id, label: translate(label), description: translate(description),
      getValue: () => getBusinessObject(element).get(attr) === true,
      // unticked: no attribute at all (the engine's default), never "false"
      setValue: value => modeling.updateProperties(element, { [attr]: value ? true : undefined })
    });
  };
}

const MilestoneEntry = checkbox('liaison:milestone', 'Shown to the external party as a milestone',
  "A step on the progress page of the outsider's portal");
const PassEntry = checkbox('liaison:pass', 'Issues a visitor pass',
  'The reception check-in step: when it is ready, the visitor gets a pass with a QR code');

/** The entries of the group for a user task, lane or other flow node (gateways have none). */
export function externalEntries(element) {
  const entries = [];
  if (is(element, 'bpmn:UserTask') || is(element, 'bpmn:Lane')) {
    entries.push(entry('liaison-external', ExternalKindEntry, element, () => !!getAttr(element, ATTR)));
  }
  if (isExternalTask(element)) {
    entries.push(entry('liaison-external-notice', ExternalTaskNotice, element));
  }
  if (hasMilestone(element)) {
    entries.push(entry('liaison-milestone', MilestoneEntry, element,
      () => getBusinessObject(element).get('liaison:milestone') === true));
  }
  if (is(element, 'bpmn:UserTask')) {
    entries.push(entry('liaison-pass', PassEntry, element,
      () => getBusinessObject(element).get('liaison:pass') === true));
  }
  return entries;
}
