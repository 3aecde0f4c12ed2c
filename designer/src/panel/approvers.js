// The assignment-rule builder for `liaison:approvers`: a kind, then the value editor of that kind.
import { jsx } from '@bpmn-io/properties-panel/preact/jsx-runtime';
import { SelectEntry, TextFieldEntry, TextAreaEntry, CheckboxEntry } from '@bpmn-io/properties-panel';
import { useService } from 'bpmn-js-properties-panel';
import { formatRule, parseRule, splitList } from '../rules.js';
import { getAttr, withCurrent, entry } from './entries.js';
import { SearchEntry } from './search.js';

const ATTR = 'liaison:approvers';

const KIND_LABELS = {
  '': 'None',
  users: 'Named people',
  role: 'Role',
  department: 'Department members',
  manager: "Initiator's manager",
  department_head: 'Department head',
  initiator: 'Initiator',
  picked: 'Picked on the start form',
  expr: 'Expression'
};

function useRule(element) {
  const modeling = useService('modeling');
  const rule = parseRule(getAttr(element, ATTR));
  const write = next => modeling.updateProperties(element, { [ATTR]: formatRule({ ...rule, ...next }) });
  return [rule, write];
}

function defaultArg(kind, context) {
  if (kind === 'role') {
    return context.roles.length ? context.roles[0].key : '';
  }
  if (kind === 'picked') {
    const users = context.startFields.filter(field => field.type === 'user');
    const fields = users.length ? users : context.startFields;
    return fields.length ? fields[0].name : '';
  }
  return '';
}

function KindEntry({ element, id }) {
  const translate = useService('translate');
  const context = useService('liaisonContext');
  const [rule] = useRule(element);
  const modeling = useService('modeling');
  return jsx(SelectEntry, {
    element, id, label: translate('Approvers'),
    getOptions: () => Object.entries(KIND_LABELS).map(([value, label]) => ({
      value, label: translate(value === '' && rule.unknown ? 'Not recognised: see the rule below' : label)
    })),
    getValue: () => rule.kind,
    setValue: kind => modeling.updateProperties(element, {
      [ATTR]: formatRule({ kind, arg: defaultArg(kind, context) })
    })
  });
}

function RuleTextEntry({ element, id }) {
  const translate = useService('translate');
  const debounce = useService('debounceInput');
  const modeling = useService('modeling');
  return jsx(TextFieldEntry, {
    element, id, debounce, label: translate('Rule'),
    description: translate('e.g. manager:2, role:finance, department:SALES+'),
    getValue: () => getAttr(element, ATTR),
    setValue: value => modeling.updateProperties(element, { [ATTR]: (value || '').trim() || undefined })
  });
}

function argText(label, { area = false, description } = {}) {
  return function ArgEntry({ element, id }) {
    const translate = useService('translate');
    const debounce = useService('debounceInput');
    const [rule, write] = useRule(element);
    return jsx(area ? TextAreaEntry : TextFieldEntry, {
      element, id, debounce, label: translate(label),
      description: description && translate(description),
      getValue: () => rule.arg, setValue: arg => write({ arg: arg || '' })
    });
  };
}

function argSelect(label, options) {
  return function ArgSelectEntry({ element, id }) {
    const translate = useService('translate');
    const context = useService('liaisonContext');
    const [rule, write] = useRule(element);
    return jsx(SelectEntry, {
      element, id, label: translate(label),
      getOptions: () => withCurrent(options(context), rule.arg),
      getValue: () => rule.arg, setValue: arg => write({ arg })
    });
  };
}

function PeopleSearchEntry({ element, id }) {
  const context = useService('liaisonContext');
  const [rule, write] = useRule(element);
  const onPick = item => {
    const names = splitList(rule.arg);
    if (!names.includes(item.value)) {
      write({ arg: [...names, item.value].join(',') });
    }
  };
  return jsx(SearchEntry, { id, label: 'Add a person', url: context.peopleUrl, onPick });
}

function DepartmentSearchEntry({ element, id }) {
  const context = useService('liaisonContext');
  const [, write] = useRule(element);
  return jsx(SearchEntry, {
    id, label: 'Find a department', url: context.departmentsUrl, onPick: item => write({ arg: item.value })
  });
}

function SubDepartmentsEntry({ element, id }) {
  const translate = useService('translate');
  const [rule, write] = useRule(element);
  return jsx(CheckboxEntry, {
    element, id, label: translate('Include sub-departments'),
    getValue: () => !!rule.sub, setValue: sub => write({ sub })
  });
}

const roleOptions = context => context.roles.map(role => ({ value: role.key, label: role.label || role.key }));
const fieldOptions = context => context.startFields.map(field => ({
  value: field.name, label: `${field.label || field.name} (${field.name})`
}));

const ARG_ENTRIES = {
  users: [['users', argText('Usernames', { description: 'Comma-separated, in order' })],
    ['people-search', PeopleSearchEntry]],
  role: [['role', argSelect('Role', roleOptions)]],
  department: [['department', argText('Department code')], ['department-search', DepartmentSearchEntry],
    ['department-sub', SubDepartmentsEntry]],
  manager: [['manager', argText('Manager level', { description: '1 = direct manager, 2 = their manager...' })]],
  department_head: [['department-head', argText('Department code', {
    description: "Empty: the initiator's department" })], ['department-search', DepartmentSearchEntry]],
  picked: [['picked', argSelect('Start-form field', fieldOptions)]],
  expr: [['expr', argText('Python expression', { area: true })]]
};

/** The entries of the approvers group for a user task. */
export function approverEntries(element) {
  const rule = parseRule(getAttr(element, ATTR));
  const entries = [entry('liaison-approvers-kind', KindEntry, element, () => !!rule.kind)];
  for (const [id, component] of ARG_ENTRIES[rule.kind] || []) {
    entries.push(entry(`liaison-approvers-${id}`, component, element));
  }
  entries.push(entry('liaison-approvers-rule', RuleTextEntry, element, () => !!getAttr(element, ATTR)));
  return entries;
}
