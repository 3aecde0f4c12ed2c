// The Liaison properties provider: its groups come after the BPMN and Camunda ones.
import { is } from 'bpmn-js/lib/util/ModelUtil';
import { approverEntries } from './approvers.js';
import { parametersGroup } from './parameters.js';
import { hasNames, nameEntries } from './names.js';
import { externalEntries, hasMilestone, isExternalTask } from './external.js';
import { PortalModule, hasPortal, portalEntries } from './portal.js';
import NamesModule from '../names.js';
import {
  approvalEntries, formEntries, deadlineEntries, directEntries, operationEntries, hasMessage,
  correlationEntries, conditionEntries
} from './groups.js';

const LOW_PRIORITY = 400;

function groupsFor(element, translate, injector) {
  const groups = [];
  const add = (id, label, entries) => groups.push({ id, label: translate(label), entries });
  if (hasNames(element)) {
    add('liaison-names', 'Names', nameEntries(element, injector.get('liaisonNames')));
  }
  const external = isExternalTask(element); // no approvers: offered to the party's contacts (external.js)
  if (is(element, 'bpmn:UserTask') || is(element, 'bpmn:Lane')) {
    add('liaison-external', 'External party', externalEntries(element));
  }
  if (is(element, 'bpmn:UserTask') && !external) {
    add('liaison-approvers', 'Approvers', approverEntries(element));
    add('liaison-approval', 'Approval mode', approvalEntries(element));
    add('liaison-direct', 'People named directly', directEntries(element));
  }
  if (is(element, 'bpmn:UserTask') || is(element, 'bpmn:StartEvent')) {
    add('liaison-form', 'Liaison form', formEntries(element));
  }
  if (is(element, 'bpmn:UserTask')) {
    add('liaison-deadlines', 'Deadlines', deadlineEntries(element));
  }
  if (is(element, 'bpmn:ServiceTask')) {
    add('liaison-operation', 'Service operation', operationEntries(element));
    groups.push(parametersGroup(element, injector));
  }
  if (hasMessage(element)) {
    add('liaison-message', 'Message correlation', correlationEntries(element));
  }
  if (is(element, 'bpmn:SequenceFlow')) {
    add('liaison-condition', 'Condition fields', conditionEntries(element));
  }
  if (hasPortal(element)) {
    add('liaison-portal', 'External portal', portalEntries(element, injector.get('liaisonPortal')));
  }
  if (hasMilestone(element) && !is(element, 'bpmn:UserTask')) {
    add('liaison-external', 'External party', externalEntries(element)); // the milestone of any flow node
  }
  return groups;
}

function LiaisonPropertiesProvider(propertiesPanel, translate, injector) {
  this.getGroups = element => groups => {
    const ours = groupsFor(element, translate, injector);
    if (isExternalTask(element)) {  // Camunda's assignee / candidates do not apply either
      groups = groups.filter(group => group.id !== 'CamundaPlatform__UserAssignment');
    }
    // Liaison's groups first after "General": they are what a process owner edits most.
    const general = groups.findIndex(group => group.id === 'general');
    groups.splice(general + 1, 0, ...ours);
    return groups;
  };
  propertiesPanel.registerProvider(LOW_PRIORITY, this);
}

LiaisonPropertiesProvider.$inject = ['propertiesPanel', 'translate', 'injector'];

export default {
  __depends__: [NamesModule, PortalModule],
  __init__: ['liaisonPropertiesProvider'],
  liaisonPropertiesProvider: ['type', LiaisonPropertiesProvider]
};
