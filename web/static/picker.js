/* Liaison pickers: suggestions under a plain text input, as the person types. Plain ES2017, no dependencies.
 *
 * Any <input data-picker="people"> or <input data-picker="departments"> (the forms' user and department
 * fields, the out-of-office deputy, the CC and transfer forms, the project members) becomes an ARIA
 * combobox: typing fetches at most 10 suggestions from the directory (debounced), shown in a listbox under
 * the input; up/down move, Enter or a click picks, Escape closes. Either way a hidden input next to it,
 * which takes over the input's name, posts what the server has always received, so the page posts what it
 * would without this script (the server's HTML stays a plain text input).
 *
 * A single-value input shows the person or department by name ("李四") while the hidden input posts the
 * value (a username, a department code); typed text that was not picked is posted as typed. The line under
 * it names the chosen person with their department ("李四 · 研发部"; never the username), a department
 * with its code and parent.
 *
 * With `data-multiple` the input becomes a box of chips, one per chosen person (display name) or
 * department (name), each with a remove button ("Remove 李四"), and the text input after them picks more
 * from the same suggestions. Backspace in the empty input removes the last chip; typing a comma, Enter on
 * unpicked text, or leaving the input keeps the typed text as a chip of its own (dashed: the server checks
 * it and reports an unknown person as before). The hidden input posts the chips' values joined by commas
 * ("li, wang"). The input keeps its id, label and `required` (while no chip is chosen).
 *
 * The names of values already there (an edit form, a form shown again after an error) come from the
 * input's `data-labels` (JSON {value: name}, written by the server) or from the directory: people by
 * `names=`, a department by its code.
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
  let WORDS = {
    results: '{n} suggestions, use up and down to choose', none: 'No match',
    remove: 'Remove {name}', removed: '{name} removed',
  };
  try {
    WORDS = Object.assign(WORDS, JSON.parse(config.words || '{}'));
  } catch (e) { /* keep the English defaults */ }

  const DELAY = 200;          // ms after the last keystroke before asking the server
  const SEPARATOR = /[,，]/;  // what separates values in a data-multiple input (the server splits on both)
  const LOOKUP = 10;          // the directory names at most this many people per request (directory.LIMIT)
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

  function splitValues(text) {
    return text.split(SEPARATOR).map((v) => v.trim()).filter(Boolean);
  }

  function sameText(a, b) {
    return String(a).toLowerCase() === String(b).toLowerCase();
  }

  /** The server's names for the values already in the input (data-labels, JSON {value: name}). */
  function labelsOf(input) {
    try {
      return JSON.parse(input.getAttribute('data-labels') || '{}') || {};
    } catch (e) {
      return {};  // no names: the values show as they are
    }
  }

  /** The hidden input that posts the value: it takes the input's name (kept in data-picker-name, so a
   *  copy of the input made by "add another" gets its own) and, at first, the input's value. */
  function carrier(input) {
    const name = input.getAttribute('name') || input.getAttribute('data-picker-name');
    if (!name) return null;
    const hidden = document.createElement('input');
    hidden.type = 'hidden';
    hidden.name = name;
    hidden.value = input.getAttribute('name') ? input.value.trim() : '';
    hidden.disabled = input.disabled;
    hidden.setAttribute('data-picker-value', '');
    input.setAttribute('data-picker-name', name);
    input.removeAttribute('name');
    return hidden;
  }

  /** A single-value picker; `ChipPicker` below is the multi-value one. */
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
      this.labelId = label ? label.id : null;
      document.body.appendChild(this.list);
      // who or what the input's value names, in words ("张三 · 销售部"), read as its description
      this.chosen = document.createElement('small');
      this.chosen.id = this.id + '-chosen';
      this.chosen.className = 'picker-chosen';
      const focused = document.activeElement === input;
      this.build();
      const described = (input.getAttribute('aria-describedby') || '').split(' ')
        .filter((id) => id && id.indexOf('picker-') !== 0);
      input.setAttribute('aria-describedby', described.concat(this.chosen.id).join(' '));
      input.setAttribute('role', 'combobox');
      input.setAttribute('aria-autocomplete', 'list');
      input.setAttribute('aria-expanded', 'false');
      input.setAttribute('aria-controls', this.list.id);
      input.removeAttribute('aria-activedescendant');
      input.setAttribute('autocomplete', 'off');
      input.addEventListener('input', () => this.typed());
      input.addEventListener('change', () => this.adopt());
      input.addEventListener('keydown', (event) => this.key(event));
      input.addEventListener('blur', () => this.leave());
      // mousedown, not click: the input keeps the focus, so its blur does not close the list first
      this.list.addEventListener('mousedown', (event) => {
        const option = event.target.closest('[role=option]');
        event.preventDefault();
        if (option) this.pick(Number(option.getAttribute('data-index')));
      });
      this.reposition = () => this.place();
      if (focused && document.activeElement !== input) input.focus();  // moved into a chip box
      this.start();
    }

    /** The hidden input after the input, which shows the value's name instead of the value. */
    build() {
      this.input.insertAdjacentElement('afterend', this.chosen);
      this.hidden = carrier(this.input);
      if (!this.hidden) return;
      this.input.insertAdjacentElement('afterend', this.hidden);
      const labels = labelsOf(this.input);
      if (this.hidden.value && labels[this.hidden.value]) this.input.value = labels[this.hidden.value];
    }

    start() {
      if (this.hidden ? this.hidden.value : this.input.value.trim()) this.describe(null);
    }

    /** The text being typed, what the suggestions are for. */
    term() {
      return this.input.value.trim();
    }

    typed() {
      this.chosen.textContent = '';
      if (this.hidden) this.hidden.value = this.input.value.trim();
      this.schedule();
    }

    leave() {
      this.close();
    }

    /** Typed text that names one of the suggestions shown (its name or value) counts as picking it. */
    adopt() {
      if (!this.hidden) return;
      const text = this.input.value.trim();
      if (!text) return;
      const item = this.match(text);
      if (item && this.hidden.value !== item.value) {
        this.hidden.value = item.value;
        this.input.value = item.label;
        this.describe(item);
        this.hidden.dispatchEvent(new Event('change', { bubbles: true }));
      }
    }

    match(text) {
      return this.items.find((i) => sameText(i.value, text) || sameText(i.label, text));
    }

    /** The line under the input for `item`: a person (or, without a hidden input, anything) by name and
     *  detail ("李四 · 研发部"); a department shown by name in the input, by its detail (code · parent). */
    hint(item) {
      if (this.hidden && this.kind !== 'people') return item.detail || '';
      return item.label + (item.detail ? ' · ' + item.detail : '');
    }

    /** Show the names behind the input's value: `item` when just picked, else asked of the directory. */
    async describe(item) {
      if (item) {
        this.chosen.textContent = this.hint(item);
        return;
      }
      const wanted = this.hidden ? this.hidden.value : this.input.value.trim();
      if (this.kind !== 'people' || !wanted) return;
      const sequence = this.sequence;
      const found = await this.fetch('names=' + encodeURIComponent(wanted));
      if (!found || sequence !== this.sequence || (this.hidden ? this.hidden.value : this.input.value.trim()) !== wanted) return;
      const person = found.find((p) => p.value === wanted);
      if (!person) return;
      if (this.hidden) this.input.value = person.label;
      this.chosen.textContent = this.hint(person);
    }

    /** Take a picked suggestion as the value. */
    choose(item) {
      if (this.hidden) {
        this.hidden.value = item.value;
        this.input.value = item.label;
      } else {
        this.input.value = item.value;
      }
      this.describe(item);
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
      const term = this.term();
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

    /** Under the input (or the chip box), in page coordinates (the list lives in <body>, outside any clipping box). */
    place() {
      const box = (this.box || this.input).getBoundingClientRect();
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
      this.close();
      this.sequence += 1;
      this.choose(item);
      announce(item.label + (item.detail ? ', ' + item.detail : ''));
      // liaison-forms.js recomputes conditions on change; the picker itself listens to `input` only
      this.input.dispatchEvent(new Event('change', { bubbles: true }));
      this.input.focus();
    }

    key(event) {
      if (event.isComposing) return;  // Enter confirms the IME's characters, it does not pick
      const open = !this.list.hidden;
      switch (event.key) {
        case 'ArrowDown':
        case 'ArrowUp':
          event.preventDefault();
          if (open) this.move(event.key === 'ArrowDown' ? 1 : -1);
          else if (this.term()) this.search(this.term());
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

  /** A data-multiple picker: chips before the text input, all in one box that looks like an input. */
  class ChipPicker extends Picker {
    build() {
      const input = this.input;
      this.required = input.required;
      this.hidden = carrier(input);
      const values = splitValues(this.hidden ? this.hidden.value : input.value);
      const labels = labelsOf(input);
      this.box = document.createElement('div');
      this.box.className = 'picker-box';
      this.chips = document.createElement('ul');
      this.chips.className = 'picker-chips';
      if (this.labelId) this.chips.setAttribute('aria-labelledby', this.labelId);
      input.insertAdjacentElement('beforebegin', this.box);
      this.box.append(this.chips, input);
      this.chosen.classList.add('picker-names');  // the chips' names for a screen reader in the input
      this.box.insertAdjacentElement('afterend', this.chosen);
      if (this.hidden) this.chosen.insertAdjacentElement('afterend', this.hidden);
      input.value = '';
      values.forEach((value) => this.add({ value: value, label: labels[value] || null }));
      this.sync();
      // a click in the box but beside the chips goes to the text input
      this.box.addEventListener('mousedown', (event) => {
        if (event.target === this.box || event.target === this.chips) {
          event.preventDefault();
          input.focus();
        }
      });
      this.chips.addEventListener('click', (event) => {
        const button = event.target.closest('.picker-chip-remove');
        if (button) this.remove(button.closest('.picker-chip'), true);
      });
      this.chips.addEventListener('keydown', (event) => {
        if ((event.key === 'Backspace' || event.key === 'Delete') && event.target.closest('.picker-chip-remove')) {
          event.preventDefault();
          this.remove(event.target.closest('.picker-chip'), true);
        }
      });
    }

    start() {
      this.resolve();
    }

    values() {
      return Array.from(this.chips.children, (li) => li.getAttribute('data-value'));
    }

    /** A chip for `item` ({value, label, detail}; no label: typed text, shown as typed), unless chosen already. */
    add(item) {
      if (this.values().indexOf(item.value) >= 0) return;
      const li = document.createElement('li');
      li.className = 'picker-chip';
      li.setAttribute('data-value', item.value);
      const name = document.createElement('span');
      name.className = 'picker-chip-label';
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'picker-chip-remove';
      button.textContent = '×';
      button.disabled = this.input.disabled;
      li.append(name, button);
      this.chips.appendChild(li);
      this.name(li, item);
    }

    /** Show a chip by its name (or, without one, its value as typed, marked as such). */
    name(li, item) {
      const shown = item.label || item.value;
      li.classList.toggle('picker-chip-raw', !item.label);
      li.firstChild.textContent = shown;
      li.lastChild.setAttribute('aria-label', WORDS.remove.replace('{name}', shown));
      this.chosen.textContent = Array.from(this.chips.children, (c) => c.firstChild.textContent).join(', ');
    }

    /** Take a chip away; the focus, if it was on the chip, goes to the text input. */
    remove(li, refocus) {
      if (!li || this.input.disabled) return;
      const shown = li.firstChild.textContent;
      li.remove();
      this.sync();
      announce(WORDS.removed.replace('{name}', shown));
      this.input.dispatchEvent(new Event('change', { bubbles: true }));
      if (refocus) this.input.focus();
    }

    /** The hidden input posts the chips' values and whatever is typed but not yet a chip. */
    sync() {
      const values = this.values().concat(splitValues(this.input.value));
      if (this.hidden) this.hidden.value = values.join(', ');
      this.input.required = this.required && !this.chips.children.length;
      this.chosen.textContent = Array.from(this.chips.children, (c) => c.firstChild.textContent).join(', ');
    }

    /** Typed text becomes a chip: the suggestion it names, else the text as typed (named later if it can be). */
    commit(text) {
      const value = text.trim();
      if (!value) return;
      const item = this.match(value);
      this.add(item || { value: value, label: null });
      if (!item) this.resolve();
    }

    /** Everything before a comma becomes a chip; what follows it is still being typed. */
    typed() {
      const parts = this.input.value.split(SEPARATOR);
      if (parts.length > 1) {
        parts.slice(0, -1).forEach((part) => this.commit(part));
        this.input.value = parts[parts.length - 1].replace(/^\s+/, '');
      }
      this.sync();
      this.schedule();
    }

    adopt() { /* typed text becomes a chip when the input is left (leave) */ }

    leave() {
      this.close();
      if (!this.input.value.trim()) return;
      this.commit(this.input.value);
      this.input.value = '';
      this.sync();
    }

    choose(item) {
      this.add(item);
      this.input.value = '';
      this.sync();
    }

    describe() { /* the chips show the names */ }

    /** Suggestions less those already chosen. */
    show(items) {
      const chosen = this.values();
      super.show(items.filter((item) => chosen.indexOf(item.value) < 0));
    }

    /** Names for the chips still showing a bare value: people by `names=`, a department by its code. */
    async resolve() {
      const missing = Array.from(this.chips.querySelectorAll('.picker-chip-raw'), (li) => li.getAttribute('data-value'));
      const asked = [];
      if (this.kind === 'people') {
        for (let i = 0; i < missing.length; i += LOOKUP) {
          asked.push(this.fetch('names=' + encodeURIComponent(missing.slice(i, i + LOOKUP).join(','))));
        }
      } else {
        missing.slice(0, LOOKUP).forEach((code) => asked.push(this.fetch('q=' + encodeURIComponent(code))
          .then((found) => found && found.filter((d) => d.value === code))));
      }
      (await Promise.all(asked)).forEach((found) => (found || []).forEach((item) => {
        const li = Array.from(this.chips.children).find((c) => c.getAttribute('data-value') === item.value);
        if (li && item.label) this.name(li, item);
      }));
    }

    key(event) {
      if (event.isComposing) return;
      const open = !this.list.hidden;
      if (event.key === 'Backspace' && !this.input.value && this.chips.lastChild) {
        event.preventDefault();
        this.remove(this.chips.lastChild, false);
        return;
      }
      if (event.key === 'Enter' && !(open && this.active >= 0) && this.input.value.trim()) {
        event.preventDefault();  // the typed text becomes a chip; Enter again (empty input) submits
        this.close();
        this.commit(this.input.value);
        this.input.value = '';
        this.sync();
        return;
      }
      super.key(event);
    }
  }

  function setUp(input) {
    if (!input || input.tagName !== 'INPUT' || !input.hasAttribute('data-picker') || pickers.has(input)) return;
    // marked first: a chip box moves the input, and giving it the focus back comes here again
    pickers.set(input, null);
    // a cloned input (forms' "add another") gets its own picker
    pickers.set(input, input.hasAttribute('data-multiple') ? new ChipPicker(input) : new Picker(input));
  }

  function setUpAll() {
    document.querySelectorAll('input[data-picker]').forEach(setUp);
  }

  document.addEventListener('focusin', (event) => setUp(event.target));
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', setUpAll);
  else setUpAll();
}());
