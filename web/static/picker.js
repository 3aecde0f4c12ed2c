/* Liaison pickers: suggestions under a plain text input, as the person types. Plain ES2017, no dependencies.
 *
 * Any <input data-picker="people"> or <input data-picker="departments"> (the forms' user and department
 * fields, the out-of-office deputy, the CC and transfer forms) becomes an ARIA combobox: typing fetches
 * at most 10 suggestions from the directory (debounced), shown in a listbox under the input; up/down move,
 * Enter or a click picks, Escape closes. A single-value input shows the person or department by name
 * ("李四") while a hidden input next to it, which takes over the input's name, posts the value (a
 * username, a department code); typed text that was not picked is posted as typed, so the page posts
 * what it would without this script. The names of values already there come from the input's
 * `data-labels` (JSON {value: name}, written by the server) or, for people, from the directory. With
 * `data-multiple` the input holds comma-separated values and the picker completes the last one.
 *
 * The endpoints and the words come from this script's own tag (base.html): data-people-url,
 * data-departments-url, data-words (JSON). Inputs added later (table rows, "add another") are set up
 * when they first get the focus.
 */
(function () {
  'use strict';

  const script = document.currentScript;
  const config = script ? script.dataset : {};
  const URLS = {
    people: config.peopleUrl || '/directory/people',
    departments: config.departmentsUrl || '/directory/departments',
  };
  let WORDS = { results: '{n} suggestions, use up and down to choose', none: 'No match', chosen: '' };
  try {
    WORDS = Object.assign(WORDS, JSON.parse(config.words || '{}'));
  } catch (e) { /* keep the English defaults */ }

  const DELAY = 200;          // ms after the last keystroke before asking the server
  const SEPARATOR = /[,，]/;  // what separates values in a data-multiple input (the server splits on both)
  const pickers = new WeakMap();
  let counter = 0;
  let status = null;          // one polite live region for the whole page

  function announce(text) {
    if (!status) {
      status = document.createElement('div');
      status.className = 'picker-status';
      status.setAttribute('role', 'status');
      status.setAttribute('aria-live', 'polite');
      document.body.appendChild(status);
    }
    status.textContent = text;
  }

  /** The part of the input's text being typed: all of it, or after the last comma when multiple. */
  function currentTerm(input) {
    if (!input.hasAttribute('data-multiple')) return input.value.trim();
    const parts = input.value.split(SEPARATOR);
    return parts[parts.length - 1].trim();
  }

  function writeValue(input, value) {
    if (!input.hasAttribute('data-multiple')) {
      input.value = value;
      return;
    }
    const parts = input.value.split(SEPARATOR).map((p) => p.trim());
    parts[parts.length - 1] = value;
    const kept = parts.filter((p, i) => p && parts.indexOf(p) === i);
    input.value = kept.join(', ') + ', ';
  }

  class Picker {
    constructor(input) {
      this.input = input;
      this.kind = input.getAttribute('data-picker');
      this.items = [];
      this.active = -1;
      this.timer = null;
      this.sequence = 0;
      this.id = 'picker-' + (++counter);
      this.list = document.createElement('ul');
      this.list.id = this.id + '-list';
      this.list.className = 'picker-list';
      this.list.setAttribute('role', 'listbox');
      this.list.hidden = true;
      const label = input.labels && input.labels[0];
      if (label) {
        if (!label.id) label.id = this.id + '-label';
        this.list.setAttribute('aria-labelledby', label.id);
      }
      document.body.appendChild(this.list);
      // who or what the input's value names, in words ("张三 · zhang · 销售部"), read as its description
      this.chosen = document.createElement('small');
      this.chosen.id = this.id + '-chosen';
      this.chosen.className = 'picker-chosen';
      input.insertAdjacentElement('afterend', this.chosen);
      const described = (input.getAttribute('aria-describedby') || '').split(' ')
        .filter((id) => id && id.indexOf('picker-') !== 0);
      input.setAttribute('aria-describedby', described.concat(this.chosen.id).join(' '));
      input.setAttribute('role', 'combobox');
      input.setAttribute('aria-autocomplete', 'list');
      input.setAttribute('aria-expanded', 'false');
      input.setAttribute('aria-controls', this.list.id);
      input.removeAttribute('aria-activedescendant');
      input.setAttribute('autocomplete', 'off');
      this.hidden = input.hasAttribute('data-multiple') ? null : this.carrier();
      input.addEventListener('input', () => {
        this.chosen.textContent = '';
        if (this.hidden) this.hidden.value = this.input.value.trim();
        this.schedule();
      });
      input.addEventListener('change', () => this.adopt());
      input.addEventListener('keydown', (event) => this.key(event));
      input.addEventListener('blur', () => this.close());
      // mousedown, not click: the input keeps the focus, so its blur does not close the list first
      this.list.addEventListener('mousedown', (event) => {
        const option = event.target.closest('[role=option]');
        event.preventDefault();
        if (option) this.pick(Number(option.getAttribute('data-index')));
      });
      this.reposition = () => this.place();
      if (this.hidden ? this.hidden.value : input.value.trim()) this.describe(null);
    }

    /** The hidden input that posts a single value: it takes the input's name (kept in data-picker-name,
     *  so a copy of the input made by "add another" gets its own), the input shows the value's name. */
    carrier() {
      const name = this.input.getAttribute('name') || this.input.getAttribute('data-picker-name');
      if (!name) return null;
      const hidden = document.createElement('input');
      hidden.type = 'hidden';
      hidden.name = name;
      hidden.value = this.input.getAttribute('name') ? this.input.value.trim() : '';
      hidden.disabled = this.input.disabled;
      hidden.setAttribute('data-picker-value', '');
      this.input.setAttribute('data-picker-name', name);
      this.input.removeAttribute('name');
      this.input.insertAdjacentElement('afterend', hidden);
      let labels = {};
      try {
        labels = JSON.parse(this.input.getAttribute('data-labels') || '{}') || {};
      } catch (e) { /* no names: the value stays as it is */ }
      if (hidden.value && labels[hidden.value]) this.input.value = labels[hidden.value];
      return hidden;
    }

    /** Typed text that names one of the suggestions shown (its name or value) counts as picking it. */
    adopt() {
      if (!this.hidden) return;
      const text = this.input.value.trim().toLowerCase();
      if (!text) return;
      const item = this.items.find((i) => String(i.value).toLowerCase() === text || String(i.label).toLowerCase() === text);
      if (item && this.hidden.value !== item.value) {
        this.hidden.value = item.value;
        this.input.value = item.label;
        this.describe(item);
        this.hidden.dispatchEvent(new Event('change', { bubbles: true }));
      }
    }

    /** Show the names behind the input's value: `item` when just picked, else asked of the directory. */
    async describe(item) {
      if (this.hidden) {
        if (item) {
          this.chosen.textContent = item.detail || '';
          return;
        }
        if (this.kind !== 'people' || !this.hidden.value) return;
        const sequence = this.sequence;
        const wanted = this.hidden.value;
        const found = await this.fetch('names=' + encodeURIComponent(wanted));
        if (!found || sequence !== this.sequence || this.hidden.value !== wanted) return;
        const person = found.find((p) => p.value === wanted);
        if (!person) return;
        this.input.value = person.label;
        this.chosen.textContent = person.detail || '';
        return;
      }
      const values = this.input.value.split(SEPARATOR).map((v) => v.trim()).filter(Boolean);
      if (item && values.length === 1) {
        this.chosen.textContent = item.label + (item.detail ? ' · ' + item.detail : '');
        return;
      }
      if (this.kind !== 'people' || !values.length) return;
      const sequence = this.sequence;
      const found = await this.fetch('names=' + encodeURIComponent(values.join(',')));
      if (!found || sequence !== this.sequence) return;
      this.chosen.textContent = found.map((p) => p.label + ' (' + p.detail + ')').join(', ');
    }

    /** The directory's JSON answer to `query`, or null (signed out, offline: the input stays plain text). */
    async fetch(query) {
      const url = URLS[this.kind];
      if (!url) return null;
      try {
        const response = await window.fetch(url + (url.indexOf('?') < 0 ? '?' : '&') + query, {
          credentials: 'same-origin', headers: { Accept: 'application/json' },
        });
        const type = response.headers.get('Content-Type') || '';
        if (!response.ok || response.redirected || type.indexOf('json') < 0) return null;
        const items = await response.json();
        return Array.isArray(items) ? items : null;
      } catch (e) {
        return null;
      }
    }

    schedule() {
      clearTimeout(this.timer);
      const term = currentTerm(this.input);
      if (!term) {
        this.sequence += 1;   // an answer still on its way is stale now
        this.close();
        return;
      }
      this.timer = setTimeout(() => this.search(term), DELAY);
    }

    async search(term) {
      const sequence = ++this.sequence;
      const items = await this.fetch('q=' + encodeURIComponent(term));
      if (sequence !== this.sequence || document.activeElement !== this.input) return;
      if (!items) {
        this.close();
        return;
      }
      this.show(items);
    }

    show(items) {
      this.items = items;
      this.active = -1;
      this.input.removeAttribute('aria-activedescendant');
      this.list.textContent = '';
      items.forEach((item, index) => {
        const li = document.createElement('li');
        li.id = this.id + '-opt-' + index;
        li.setAttribute('role', 'option');
        li.setAttribute('aria-selected', 'false');
        li.setAttribute('data-index', String(index));
        li.setAttribute('data-value', item.value);
        const name = document.createElement('span');
        name.className = 'picker-label';
        name.textContent = item.label;
        li.appendChild(name);
        if (item.detail) {
          const detail = document.createElement('span');
          detail.className = 'picker-detail';
          detail.textContent = item.detail;
          li.appendChild(detail);
        }
        this.list.appendChild(li);
      });
      if (!items.length) {
        const li = document.createElement('li');
        li.className = 'picker-empty';
        li.textContent = WORDS.none;
        this.list.appendChild(li);
      }
      this.open();
      announce(items.length ? WORDS.results.replace('{n}', items.length) : WORDS.none);
    }

    open() {
      this.list.hidden = false;
      this.input.setAttribute('aria-expanded', 'true');
      this.place();
      window.addEventListener('resize', this.reposition);
      window.addEventListener('scroll', this.reposition, true);
    }

    close() {
      clearTimeout(this.timer);
      if (this.list.hidden) return;
      this.list.hidden = true;
      this.active = -1;
      this.input.setAttribute('aria-expanded', 'false');
      this.input.removeAttribute('aria-activedescendant');
      window.removeEventListener('resize', this.reposition);
      window.removeEventListener('scroll', this.reposition, true);
    }

    /** Under the input, in page coordinates (the list lives in <body>, outside any clipping box). */
    place() {
      const box = this.input.getBoundingClientRect();
      this.list.style.left = (box.left + window.scrollX) + 'px';
      this.list.style.top = (box.bottom + window.scrollY + 2) + 'px';
      this.list.style.minWidth = box.width + 'px';
    }

    move(step) {
      if (!this.items.length) return;
      const count = this.items.length;
      this.active = this.active < 0 ? (step > 0 ? 0 : count - 1) : (this.active + step + count) % count;
      Array.from(this.list.children).forEach((li, index) => {
        li.setAttribute('aria-selected', index === this.active ? 'true' : 'false');
      });
      const current = this.list.children[this.active];
      this.input.setAttribute('aria-activedescendant', current.id);
      current.scrollIntoView({ block: 'nearest' });
    }

    pick(index) {
      const item = this.items[index];
      if (!item) return;
      if (this.hidden) {
        this.hidden.value = item.value;
        this.input.value = item.label;
      } else {
        writeValue(this.input, item.value);
      }
      this.close();
      this.sequence += 1;
      this.describe(item);
      announce(item.label + (item.detail ? ', ' + item.detail : ''));
      // liaison-forms.js recomputes conditions on change; the picker itself listens to `input` only
      this.input.dispatchEvent(new Event('change', { bubbles: true }));
      this.input.focus();
    }

    key(event) {
      const open = !this.list.hidden;
      switch (event.key) {
        case 'ArrowDown':
        case 'ArrowUp':
          event.preventDefault();
          if (open) this.move(event.key === 'ArrowDown' ? 1 : -1);
          else if (currentTerm(this.input)) this.search(currentTerm(this.input));
          break;
        case 'Enter':
          if (open && this.active >= 0) {
            event.preventDefault();  // pick, do not submit the form
            this.pick(this.active);
          }
          break;
        case 'Escape':
          if (open) {
            event.preventDefault();
            event.stopPropagation();
            this.close();
          }
          break;
        case 'Tab':
          this.close();
          break;
        default:
      }
    }
  }

  function setUp(input) {
    if (!input || input.tagName !== 'INPUT' || !input.hasAttribute('data-picker') || pickers.has(input)) return;
    pickers.set(input, new Picker(input));  // a cloned input (forms' "add another") gets its own picker
  }

  function setUpAll() {
    document.querySelectorAll('input[data-picker]').forEach(setUp);
  }

  document.addEventListener('focusin', (event) => setUp(event.target));
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', setUpAll);
  else setUpAll();
}());
