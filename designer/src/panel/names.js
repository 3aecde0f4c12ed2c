// The "Names" group: an element's (or the process's) Chinese and English name, package.yaml `names`.
import { jsx } from '@bpmn-io/properties-panel/preact/jsx-runtime';
import { TextFieldEntry } from '@bpmn-io/properties-panel';
import { useService } from 'bpmn-js-properties-panel';
import { getBusinessObject, is } from 'bpmn-js/lib/util/ModelUtil';
import { entry } from './entries.js';

const LABELS = { zh: 'Chinese name', en: 'English name' };

function nameEntry(lang) {
  return function LiaisonNameEntry({ element, id }) {
    const translate = useService('translate');
    const debounce = useService('debounceInput');
    const names = useService('liaisonNames');
    const commandStack = useService('commandStack');
    return jsx(TextFieldEntry, {
      element, id, debounce, label: translate(LABELS[lang]),
      getValue: () => names.get(getBusinessObject(element).id)[lang] || '',
      setValue: value => commandStack.execute('liaison.names.update', { element, lang, value: value || '' })
    });
  };
}

const ENTRIES = { zh: nameEntry('zh'), en: nameEntry('en') };

/** Flow elements (tasks, events, gateways, flows) and the process have names. */
export function hasNames(element) {
  return is(element, 'bpmn:FlowElement') || is(element, 'bpmn:Process');
}

export function nameEntries(element, names) {
  return ['zh', 'en'].map(lang => entry(`liaison-name-${lang}`, ENTRIES[lang], element,
    () => !!names.get(getBusinessObject(element).id)[lang]));
}
