// Small entry factories over one `liaison:*` (or other qualified) attribute of the element.
import { jsx } from '@bpmn-io/properties-panel/preact/jsx-runtime';
import { SelectEntry, TextFieldEntry, TextAreaEntry } from '@bpmn-io/properties-panel';
import { useService } from 'bpmn-js-properties-panel';
import { getBusinessObject } from 'bpmn-js/lib/util/ModelUtil';

export function getAttr(element, attr) {
  const value = getBusinessObject(element).get(attr);
  return value === undefined || value === null ? '' : String(value);
}

export function useSetAttr(element, attr) {
  const modeling = useService('modeling');
  return value => modeling.updateProperties(element, { [attr]: value === '' ? undefined : value });
}

/** A text (or textarea) entry bound to `attr`; an empty value removes the attribute. */
export function textEntry(attr, label, { area = false, description } = {}) {
  return function LiaisonTextEntry({ element, id }) {
    const translate = useService('translate');
    const debounce = useService('debounceInput');
    const setValue = useSetAttr(element, attr);
    return jsx(area ? TextAreaEntry : TextFieldEntry, {
      element, id, debounce, label: translate(label),
      description: description && translate(description),
      getValue: () => getAttr(element, attr),
      setValue: value => setValue((value || '').trim() === '' ? '' : value)
    });
  };
}

/** A select bound to `attr`; options(context, element) -> [{value, label}] (labels translated here). */
export function selectEntry(attr, label, options) {
  return function LiaisonSelectEntry({ element, id }) {
    const translate = useService('translate');
    const context = useService('liaisonContext');
    const setValue = useSetAttr(element, attr);
    const getOptions = () => withCurrent(options(context, element, translate), getAttr(element, attr));
    return jsx(SelectEntry, {
      element, id, label: translate(label), getOptions,
      getValue: () => getAttr(element, attr), setValue
    });
  };
}

/** Keep a value the draft does not list (a form removed since) selectable instead of hiding it. */
export function withCurrent(options, current) {
  if (current && !options.some(option => option.value === current)) {
    return [...options, { value: current, label: current }];
  }
  return options;
}

export function entry(id, component, element, isEdited) {
  return { id, component, element, isEdited };
}
