// Translation for the modeler (palette, context pad, properties panel) and Liaison's own labels.
// English is the source text; Chinese comes from bpmn-js-i18n's dictionary plus ZH below.
import bpmnZh from 'bpmn-js-i18n/translations/zn';
import { ZH } from './i18n-zh.js';

const DICTIONARIES = { zh: { ...bpmnZh, ...ZH } };

// Messages bpmnlint and bpmn-js build with a name inside (`Element type <bpmn:InclusiveGateway> is
// discouraged`): matched here and translated through their template with the name as a replacement.
const BUILT = [
  [/^Element type <([^>]+)> is discouraged$/, 'Element type <{type}> is discouraged', ['type']],
  [/^Duplicate link catch event with link name <([^>]*)> in scope$/,
    'Duplicate link catch event with link name <{name}> in scope', ['name']],
  [/^Link catch event with link name <([^>]*)> missing in scope$/,
    'Link catch event with link name <{name}> missing in scope', ['name']],
  [/^Link throw event with link name <([^>]*)> missing in scope$/,
    'Link throw event with link name <{name}> missing in scope', ['name']],
  [/^unresolved reference <([^>]*)>$/, 'unresolved reference <{ref}>', ['ref']]
];

/** A diagram-js `translate(template, replacements)` for `lang` ('zh' or 'en'). */
export function translator(lang) {
  const dictionary = DICTIONARIES[lang] || {};
  return function translate(template, replacements = {}) {
    if (!(template in dictionary)) {
      for (const [pattern, built, names] of BUILT) {
        const match = pattern.exec(template);
        if (match && built in dictionary) {
          return translate(built, Object.fromEntries(names.map((name, i) => [name, match[i + 1]])));
        }
      }
    }
    const text = dictionary[template] || template;
    return text.replace(/{([^}]+)}/g, (match, key) => (key in replacements ? replacements[key] : match));
  };
}

/** The module replacing diagram-js' translate service. */
export function translateModule(lang) {
  return { translate: ['value', translator(lang)] };
}
