// A search box over a `?q=` endpoint (people, departments): results are buttons; a click picks one.
import { jsx, jsxs } from '@bpmn-io/properties-panel/preact/jsx-runtime';
import { useState, useRef } from '@bpmn-io/properties-panel/preact/hooks';
import { useService } from 'bpmn-js-properties-panel';
import { search } from '../api.js';

export function SearchEntry({ id, label, url, onPick }) {
  const translate = useService('translate');
  const [results, setResults] = useState([]);
  const timer = useRef(null);
  const onInput = event => {
    const text = event.target.value.trim();
    clearTimeout(timer.current);
    if (!text) {
      setResults([]);
      return;
    }
    timer.current = setTimeout(async () => setResults(await search(url, text)), 250);
  };
  const items = results.map(item => jsx('li', {
    children: jsxs('button', {
      type: 'button', class: 'ld-search-result', 'data-value': item.value,
      onClick: () => { onPick(item); setResults([]); },
      children: [item.label, item.detail ? jsx('small', { children: ` ${item.detail}` }) : null]
    })
  }, item.value));
  return jsxs('div', {
    class: 'bio-properties-panel-entry ld-search', 'data-entry-id': id,
    children: [
      jsx('label', { for: `ld-${id}`, class: 'bio-properties-panel-label', children: translate(label) }),
      jsx('input', {
        id: `ld-${id}`, type: 'search', class: 'bio-properties-panel-input', autocomplete: 'off',
        placeholder: translate('Type to search'), onInput
      }),
      jsx('ul', { class: 'ld-search-results', children: items })
    ]
  });
}
