// Camunda 7 properties groups the engine does not understand are hidden, so a process owner sees only
// what works. Kept: user assignment (assignee, candidates, due date), form key, conditions, call
// activity, implementation (external task topic), script, multi-instance. The external task group
// (task priority) goes: the engine refuses external tasks, the topic lives in "implementation". Registered after every
// other provider (lowest priority) so it sees their groups.
const HIDDEN = new Set([
  'HistoryCleanup', 'Tasklist', 'CandidateStarter', 'JobExecution', 'ExecutionListener', 'TaskListener',
  'ExtensionProperties', 'AsynchronousContinuations', 'FieldInjection', 'ConnectorInput', 'ConnectorOutput',
  'Input', 'Output', 'InMapping', 'OutMapping', 'InMappingPropagation', 'OutMappingPropagation', 'Errors',
  'BusinessKey', 'StartInitiator', 'FormData', 'ProcessVariables', 'ExternalTask'
].map(name => `CamundaPlatform__${name}`));

export function visibleGroups(groups) {
  return groups.filter(group => !HIDDEN.has(group.id));
}

function HiddenGroupsProvider(propertiesPanel) {
  this.getGroups = () => visibleGroups;
  propertiesPanel.registerProvider(100, this);
}

HiddenGroupsProvider.$inject = ['propertiesPanel'];

export default {
  __init__: ['liaisonHiddenGroups'],
  liaisonHiddenGroups: ['type', HiddenGroupsProvider]
};
