// Translation for the modeler (palette, context pad, properties panel) and Liaison's own labels.
// English is the source text; Chinese comes from bpmn-js-i18n's dictionary plus ZH below.
import bpmnZh from 'bpmn-js-i18n/translations/zn';
import { ZH } from './i18n-zh.js';

const DICTIONARIES = { zh: { ...bpmnZh, ...ZH } };

/** A diagram-js `translate(template, replacements)` for `lang` ('zh' or 'en'). */
export function translator(lang) {
  const dictionary = DICTIONARIES[lang] || {};
  return function translate(template, replacements = {}) {
    const text = dictionary[template] || template;
    return text.replace(/{([^}]+)}/g, (match, key) => (key in replacements ? replacements[key] : match));
  };
}

/** The module replacing diagram-js' translate service. */
export function translateModule(lang) {
  return { translate: ['value', translator(lang)] };
}
