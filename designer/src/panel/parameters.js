// A service task's `<liaison:parameter name="x" value="expression"/>` list (in extensionElements).
import { jsx } from '@bpmn-io/properties-panel/preact/jsx-runtime';
import { ListGroup, TextFieldEntry } from '@bpmn-io/properties-panel';
import { useService } from 'bpmn-js-properties-panel';
import { getBusinessObject, is } from 'bpmn-js/lib/util/ModelUtil';

const MULTI = 'properties-panel.multi-command-executor';

function parametersOf(bo) {
  const extensions = bo.get('extensionElements');
  return extensions ? extensions.get('values').filter(value => is(value, 'liaison:Parameter')) : [];
}

// Module-level components (the parameter comes in props): a new component per render would remount
// the field and lose what is being typed.
function fieldEntry(property, label) {
  return function ParameterFieldEntry({ element, id, parameter }) {
    const translate = useService('translate');
    const debounce = useService('debounceInput');
    const modeling = useService('modeling');
    return jsx(TextFieldEntry, {
      element, id, debounce, label: translate(label),
      getValue: () => parameter.get(property) || '',
      setValue: value => modeling.updateModdleProperties(element, parameter, { [property]: value || '' })
    });
  };
}

const NameEntry = fieldEntry('name', 'Name');
const ValueEntry = fieldEntry('value', 'Value (expression)');

function add(element, bpmnFactory, commandStack) {
  return event => {
    event.stopPropagation();
    const bo = getBusinessObject(element);
    const commands = [];
    let extensions = bo.get('extensionElements');
    if (!extensions) {
      extensions = bpmnFactory.create('bpmn:ExtensionElements', { values: [] });
      extensions.$parent = bo;
      commands.push({ cmd: 'element.updateModdleProperties',
        context: { element, moddleElement: bo, properties: { extensionElements: extensions } } });
    }
    const parameter = bpmnFactory.create('liaison:Parameter', { name: '', value: '' });
    parameter.$parent = extensions;
    commands.push({ cmd: 'element.updateModdleProperties',
      context: { element, moddleElement: extensions, properties: { values: [...extensions.get('values'), parameter] } } });
    commandStack.execute(MULTI, commands);
  };
}

function remove(element, parameter, commandStack) {
  return event => {
    event.stopPropagation();
    const extensions = getBusinessObject(element).get('extensionElements');
    commandStack.execute(MULTI, [{ cmd: 'element.updateModdleProperties', context: {
      element, moddleElement: extensions,
      properties: { values: extensions.get('values').filter(value => value !== parameter) } } }]);
  };
}

/** The "Operation parameters" list group of a service task. */
export function parametersGroup(element, injector) {
  const translate = injector.get('translate');
  const commandStack = injector.get('commandStack');
  const items = parametersOf(getBusinessObject(element)).map((parameter, index) => {
    const id = `${element.id}-liaison-parameter-${index}`;
    return {
      id,
      label: parameter.get('name') || '',
      entries: [
        { id: `${id}-name`, component: NameEntry, parameter },
        { id: `${id}-value`, component: ValueEntry, parameter }
      ],
      autoFocusEntry: `${id}-name`,
      remove: remove(element, parameter, commandStack)
    };
  });
  return {
    id: 'liaison-parameters', label: translate('Operation parameters'), component: ListGroup,
    items, add: add(element, injector.get('bpmnFactory'), commandStack)
  };
}
