// The Liaison groups other than approvers: approval mode, form, deadlines, service operation, message, condition.
import { jsx } from '@bpmn-io/properties-panel/preact/jsx-runtime';
import { SelectEntry } from '@bpmn-io/properties-panel';
import { useService } from 'bpmn-js-properties-panel';
import { getBusinessObject, is } from 'bpmn-js/lib/util/ModelUtil';
import { textEntry, selectEntry, getAttr, entry } from './entries.js';

const choices = pairs => (context, element, translate) =>
  pairs.map(([value, label]) => ({ value, label: translate(label) }));

const ModeEntry = selectEntry('liaison:mode', 'Approval mode', choices([
  ['', 'One approver'], ['sequential', 'Sequential (依次)'], ['all', 'All must approve (会签)'],
  ['any', 'Any one (或签)'], ['vote', 'Weighted vote (票签)']
]));
const EmptyEntry = selectEntry('liaison:approversEmpty', 'When nobody is found', choices([
  ['', 'Fail (default)'], ['fail', 'Fail'], ['skip', 'Skip the node'], ['admin', 'Process admins']
]));
const SelfEntry = selectEntry('liaison:selfApproval', 'When the initiator would approve', choices([
  ['', 'Allow (default)'], ['allow', 'Allow'], ['skip', 'Leave the initiator out'],
  ['manager', "The initiator's manager instead"]
]));

// Which operations the node offers (docs/approvals.md, "Allowed operations per node"); absent: all of them.
const AllowEntry = textEntry('liaison:allow', 'Allowed operations',
  { description: 'return, transfer, delegate, addSigner, removeSigner (comma-separated); empty: all' });
const ReturnToEntry = textEntry('liaison:returnTo', 'Return to',
  { description: 'initiator, previous, any (comma-separated); empty: all' });

/** Approval mode, the empty / self-approval policies and the allowed operations of a user task. */
export function approvalEntries(element) {
  const entries = [
    entry('liaison-mode', ModeEntry, element, () => !!getAttr(element, 'liaison:mode'))
  ];
  if (getAttr(element, 'liaison:mode') === 'vote') {
    entries.push(entry('liaison-vote-threshold', textEntry('liaison:voteThreshold', 'Vote threshold',
      { description: 'Share of the weight needed, e.g. 0.6' }), element));
    entries.push(entry('liaison-vote-weights', textEntry('liaison:voteWeights', 'Vote weights',
      { description: 'username:weight, comma-separated' }), element));
  }
  entries.push(entry('liaison-approvers-empty', EmptyEntry, element));
  entries.push(entry('liaison-self-approval', SelfEntry, element));
  entries.push(entry('liaison-allow', AllowEntry, element, () => !!getAttr(element, 'liaison:allow')));
  entries.push(entry('liaison-return-to', ReturnToEntry, element, () => !!getAttr(element, 'liaison:returnTo')));
  return entries;
}

const formOptions = (context, element, translate) => [
  { value: '', label: translate('No form') },
  ...Object.keys(context.forms).sort().map(name => ({ value: name, label: name }))
];
const FormEntry = selectEntry('liaison:form', 'Form', formOptions);

const userTaskOptions = (context, element, translate) => {
  const process = element.parent && getBusinessObject(element.parent);
  const tasks = ((process && process.flowElements) || []).filter(el => is(el, 'bpmn:UserTask'));
  return [{ value: '', label: translate('None') },
    ...tasks.map(task => ({ value: task.id, label: task.name || task.id }))];
};
const ResubmitEntry = selectEntry('liaison:resubmit', 'Rework node after a return', userTaskOptions);
const AfterReturnEntry = selectEntry('liaison:afterReturn', 'After rework', choices([
  ['', 'Default'], ['rerun', 'Run the approvals again'], ['direct', 'Back to the returning node']
]));

/** Form (user task, start event) and, on a start event, the rework node. */
export function formEntries(element) {
  const entries = [entry('liaison-form', FormEntry, element, () => !!getAttr(element, 'liaison:form'))];
  if (is(element, 'bpmn:StartEvent')) {
    entries.push(entry('liaison-resubmit', ResubmitEntry, element));
    entries.push(entry('liaison-after-return', AfterReturnEntry, element));
  }
  return entries;
}

const DURATION = 'ISO 8601 duration (PT4H, P2D) or workdays (P2WD)';
const DEADLINES = [
  ['liaison-due-date', 'liaison:dueDate', 'Due date', 'Duration, date-time or ${expression}'],
  ['liaison-remind-after', 'liaison:remindAfter', 'Remind after', DURATION],
  ['liaison-escalate-after', 'liaison:escalateAfter', 'Escalate after', DURATION],
  ['liaison-timeout-after', 'liaison:timeoutAfter', 'Time out after', DURATION]
].map(([id, attr, label, description]) => [id, textEntry(attr, label, { description }), attr]);
const TimeoutActionEntry = selectEntry('liaison:timeoutAction', 'On time-out', choices([
  ['', 'Nothing'], ['approve', 'Approve'], ['reject', 'Reject']
]));
const DIRECT = [
  ['liaison-assignee', 'liaison:assignee', 'Assignee (username or ${field})'],
  ['liaison-candidate-users', 'liaison:candidateUsers', 'Candidate users'],
  ['liaison-candidate-groups', 'liaison:candidateGroups', 'Candidate groups (roles)']
].map(([id, attr, label]) => [id, textEntry(attr, label), attr]);

/** Due date, reminders, escalation and time-out of a user task. */
export function deadlineEntries(element) {
  return [
    ...DEADLINES.map(([id, component, attr]) => entry(id, component, element, () => !!getAttr(element, attr))),
    entry('liaison-timeout-action', TimeoutActionEntry, element)
  ];
}

/** People named directly (liaison:assignee / candidates), instead of an approver rule. */
export function directEntries(element) {
  return DIRECT.map(([id, component, attr]) => entry(id, component, element, () => !!getAttr(element, attr)));
}

const operationOptions = (context, element, translate) => [
  { value: '', label: translate('None') }, ...context.operations.map(name => ({ value: name, label: name }))
];
const OperationEntry = selectEntry('liaison:operation', 'Operation', operationOptions);
const ResultEntry = textEntry('liaison:resultVariable', 'Result variable', { description: 'Default: <id>_result' });

export function operationEntries(element) {
  return [
    entry('liaison-operation', OperationEntry, element, () => !!getAttr(element, 'liaison:operation')),
    entry('liaison-result-variable', ResultEntry, element)
  ];
}

const CorrelationEntry = textEntry('liaison:correlationKey', 'Correlation key',
  { description: 'Expression over the process data' });

export function hasMessage(element) {
  const bo = getBusinessObject(element);
  if (is(bo, 'bpmn:ReceiveTask')) {
    return true;
  }
  return is(bo, 'bpmn:Event') && (bo.eventDefinitions || []).some(def => is(def, 'bpmn:MessageEventDefinition'));
}

export function correlationEntries(element) {
  return [entry('liaison-correlation-key', CorrelationEntry, element,
    () => !!getAttr(element, 'liaison:correlationKey'))];
}

function FieldPickerEntry({ element, id }) {
  const translate = useService('translate');
  const context = useService('liaisonContext');
  const modeling = useService('modeling');
  const bpmnFactory = useService('bpmnFactory');
  const insert = name => {
    if (!name) {
      return;
    }
    const condition = getBusinessObject(element).conditionExpression;
    if (condition) {
      const body = (condition.body || '').trimEnd();
      modeling.updateModdleProperties(element, condition, { body: body ? `${body} ${name}` : name });
    } else {
      const expression = bpmnFactory.create('bpmn:FormalExpression', { body: name });
      modeling.updateProperties(element, { conditionExpression: expression });
    }
  };
  return jsx(SelectEntry, {
    element, id, label: translate('Insert a start-form field'),
    getOptions: () => [{ value: '', label: '—' }, ...context.startFields.map(field => ({
      value: field.name, label: `${field.label || field.name} (${field.name})`
    }))],
    getValue: () => '', setValue: insert
  });
}

export function conditionEntries(element) {
  return [entry('liaison-condition-field', FieldPickerEntry, element)];
}
