/* Liaison uploads: a file chooser uploads each chosen file at once and keeps the answers for the form. Plain
 * ES2017, no dependencies.
 *
 * Every <input type="file" data-upload-for="NAME"> (a form's file field, the "Attachments" of decisions and
 * operations) works with the hidden input NAME of its form, which holds the uploaded files' references as a
 * JSON list and is what the form posts (the chooser itself has no name: it posts nothing). Choosing files
 * posts each one to the upload endpoint (multipart, with the form's CSRF token); each answer
 * {id, name, size, sha256, content_type} is added to the hidden input and listed under the chooser with its
 * size and a remove button. Refusals (too large, type not allowed, empty) are shown in the list.
 *
 * The native chooser keeps saying "No file chosen" after an upload (its choice is cleared once the file is
 * uploaded), so once this script runs it is hidden behind a button that says what it does: "Upload a file",
 * "Upload more" once files are listed, gone while the field holds its maximum. Without JavaScript the native
 * chooser stays as it was (the page says files need JavaScript).
 *
 * The endpoint and the words come from this script's own tag: data-upload-url, data-words (JSON). The
 * chooser's data-max-size, data-max-files and accept narrow the upload to the field's own limits. A form
 * is not submitted while one of its uploads is still running.
 */
(function () {
  'use strict';

  const script = document.currentScript;
  const config = script ? script.dataset : {};
  const URL_ = config.uploadUrl || '/files';
  let WORDS = {
    choose: 'Upload a file', more: 'Upload more', remove_short: 'Remove',
    remove: 'Remove {name}', uploading: 'Uploading {name}…', failed: 'Not uploaded: {reason}',
    wait: 'Wait until the files are uploaded.', network: 'The connection failed. Try again.',
    too_many: 'Attach at most {n} files.', too_large: '“{name}” is larger than {size}.',
  };
  try {
    WORDS = Object.assign(WORDS, JSON.parse(config.words || '{}'));
  } catch (e) { /* keep the English defaults */ }

  const say = (key, values) => String(WORDS[key] || key).replace(/\{(\w+)\}/g, (m, k) => (k in values ? values[k] : m));

  function humanSize(size) {
    const units = [['GB', 1024 ** 3], ['MB', 1024 ** 2], ['KB', 1024]];
    for (const [unit, scale] of units) {
      if (size >= scale) return `${Math.round((size / scale) * 10) / 10}${unit}`;
    }
    return `${size}B`;
  }

  function readRefs(hidden) {
    try {
      const value = JSON.parse(hidden.value || '[]');
      return Array.isArray(value) ? value.filter((r) => r && typeof r.id === 'string') : [];
    } catch (e) {
      return [];
    }
  }

  function writeRefs(hidden, refs) {
    hidden.value = JSON.stringify(refs);
    // liaison-forms.js recomputes conditions and formulas on these
    hidden.dispatchEvent(new Event('input', { bubbles: true }));
    hidden.dispatchEvent(new Event('change', { bubbles: true }));
  }

  function hiddenFor(chooser) {
    const name = chooser.getAttribute('data-upload-for');
    const scope = chooser.form || chooser.closest('form') || document;
    return Array.from(scope.querySelectorAll('input[type=hidden]')).find((el) => el.name === name) || null;
  }

  function csrfToken(chooser) {
    const form = chooser.form || chooser.closest('form');
    const field = form ? form.querySelector('input[name=csrf_token]') : null;
    return field ? field.value : '';
  }

  // The widget's own look, on employee and portal pages alike (the pages' styles only add to it).
  const STYLE = '.upload-native{position:absolute!important;width:1px;height:1px;padding:0;margin:-1px;' +
    'overflow:hidden;clip:rect(0,0,0,0);white-space:nowrap;border:0;opacity:0}' +
    '.upload-choose{display:inline-flex;align-items:center;gap:.35rem;font:inherit;padding:.35rem .9rem;' +
    'border:1px dashed currentColor;border-radius:6px;background:transparent;color:inherit;cursor:pointer;' +
    'max-width:100%}.upload-choose.upload-full{display:none}.upload-choose:disabled{opacity:.5;cursor:not-allowed}' +
    '.upload-choose:focus-visible,.upload-remove:focus-visible{outline:2px solid #2f6fdf;outline-offset:2px}' +
    '.upload-list{list-style:none;margin:.35rem 0 0;padding:0}.upload-list:empty{display:none}' +
    '.upload-list li.upload-done{display:flex;flex-wrap:nowrap;align-items:center;gap:.25rem .6rem;padding:.3rem .5rem;' +
    'margin:.25rem 0;border:1px solid rgba(127,127,127,.35);border-radius:6px;max-width:36rem}' +
    '.upload-list .file-name{flex:1 1 auto;min-width:0;overflow-wrap:anywhere}' +
    '.upload-list .file-size{flex:none;opacity:.75;font-size:.85em}' +
    '.upload-list .upload-remove{flex:none;font:inherit;font-size:.85em;padding:.1rem .5rem;cursor:pointer}';

  function addStyle() {
    if (document.getElementById('liaison-upload-style') || !document.head) return;
    const style = document.createElement('style');
    style.id = 'liaison-upload-style';
    style.textContent = STYLE;
    document.head.insertBefore(style, document.head.firstChild); // first: the page's own rules win
  }

  let buttons = 0;

  const pending = new WeakMap(); // form -> number of uploads running

  function setUp(chooser) {
    if (chooser.dataset.uploadReady) return;
    chooser.dataset.uploadReady = '1';
    const hidden = hiddenFor(chooser);
    if (!hidden) return;
    const form = chooser.form || chooser.closest('form');
    const list = document.createElement('ul');
    list.className = 'upload-list';
    list.setAttribute('aria-live', 'polite');
    // the server's list of files already attached is replaced by this one (same content, with remove buttons)
    const wrapper = chooser.closest('.lf-field, .upload-field') || chooser.parentElement;
    const old = wrapper.querySelector('ul.lf-files');
    if (old) old.remove();
    hidden.insertAdjacentElement('afterend', list);

    // the clear button in front of the hidden native chooser (which still does the choosing)
    buttons += 1;
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'upload-choose';
    button.id = `${chooser.id || 'upload'}-choose-${buttons}`;
    button.disabled = chooser.disabled;
    ['aria-invalid', 'aria-describedby', 'aria-required'].forEach((attr) => {
      if (chooser.hasAttribute(attr)) button.setAttribute(attr, chooser.getAttribute(attr));
    });
    const label = chooser.id ? document.querySelector(`label[for="${CSS.escape(chooser.id)}"]`) : null;
    if (label) {
      // the field's name and what the button does: "Proof, Upload a file"
      if (!label.id) label.id = `${button.id}-label`;
      label.htmlFor = button.id;
      button.setAttribute('aria-labelledby', `${label.id} ${button.id}`);
    }
    button.innerHTML = '<svg aria-hidden="true" focusable="false" width="16" height="16" viewBox="0 0 16 16" ' +
      'fill="none" stroke="currentColor" stroke-width="1.6" stroke-linecap="round" stroke-linejoin="round">' +
      '<path d="M8 11V2.5M4.5 6 8 2.5 11.5 6M2.5 10.5v3h11v-3"/></svg><span class="upload-choose-text"></span>';
    const buttonText = button.querySelector('.upload-choose-text');
    button.addEventListener('click', () => chooser.click());
    chooser.classList.add('upload-native');
    chooser.tabIndex = -1;
    chooser.setAttribute('aria-hidden', 'true');
    chooser.insertAdjacentElement('afterend', button);
    const maxFiles = parseInt(chooser.getAttribute('data-max-files') || '', 10);

    function render() {
      list.querySelectorAll('li.upload-done').forEach((li) => li.remove());
      readRefs(hidden).forEach((ref) => {
        const li = document.createElement('li');
        li.className = 'upload-done';
        const name = document.createElement('span');
        name.className = 'file-name';
        name.textContent = ref.name || ref.id;
        const size = document.createElement('span');
        size.className = 'file-size';
        size.textContent = Number.isInteger(ref.size) ? humanSize(ref.size) : '';
        const remove = document.createElement('button');
        remove.type = 'button';
        remove.className = 'upload-remove';
        remove.textContent = say('remove_short', {});
        remove.setAttribute('aria-label', say('remove', { name: ref.name || ref.id }));
        remove.addEventListener('click', () => {
          writeRefs(hidden, readRefs(hidden).filter((r) => r.id !== ref.id));
          render();
          button.focus();
        });
        li.append(name, size, remove);
        list.insertBefore(li, list.querySelector('li.upload-busy, li.upload-error'));
      });
      const count = readRefs(hidden).length;
      buttonText.textContent = say(count ? 'more' : 'choose', {});
      // full: the button goes (a class, not [hidden]: liaison-forms.js disables what is [hidden] in a field)
      button.classList.toggle('upload-full', maxFiles > 0 && count >= maxFiles);
      button.disabled = chooser.disabled;
    }

    function problem(text) {
      const li = document.createElement('li');
      li.className = 'upload-error';
      li.setAttribute('role', 'alert');
      li.textContent = text;
      list.appendChild(li);
    }

    function upload(file) {
      const maxSize = parseInt(chooser.getAttribute('data-max-size') || '', 10);
      if (maxSize > 0 && file.size > maxSize) {
        problem(say('failed', { reason: say('too_large', { name: file.name, size: humanSize(maxSize) }) }));
        return Promise.resolve();
      }
      const busy = document.createElement('li');
      busy.className = 'upload-busy';
      busy.textContent = say('uploading', { name: file.name });
      list.appendChild(busy);
      const body = new FormData();
      body.append('csrf_token', csrfToken(chooser));
      body.append('file', file, file.name);
      const query = new URLSearchParams();
      if (maxSize > 0) query.set('max_size', String(maxSize));
      if (chooser.accept) query.set('accept', chooser.accept);
      const target = URL_ + (query.toString() ? `?${query}` : '');
      if (form) pending.set(form, (pending.get(form) || 0) + 1);
      return fetch(target, {
        method: 'POST', body, credentials: 'same-origin', headers: { Accept: 'application/json' },
      }).then((response) => response.json().catch(() => ({})).then((answer) => {
        if (response.ok && answer.id) {
          writeRefs(hidden, readRefs(hidden).concat([answer]));
        } else {
          problem(say('failed', { reason: answer.error || `${response.status}` }));
        }
      })).catch(() => {
        problem(say('failed', { reason: say('network', {}) }));
      }).then(() => {
        busy.remove();
        if (form) pending.set(form, Math.max(0, (pending.get(form) || 1) - 1));
        render();
      });
    }

    chooser.addEventListener('change', () => {
      list.querySelectorAll('li.upload-error').forEach((li) => li.remove());
      const files = Array.from(chooser.files || []);
      chooser.value = ''; // choosing the same file again is a new choice
      const room = maxFiles > 0 ? maxFiles - readRefs(hidden).length : files.length;
      if (files.length > room) {
        problem(say('too_many', { n: maxFiles }));
      }
      files.slice(0, Math.max(0, room)).reduce((chain, file) => chain.then(() => upload(file)), Promise.resolve())
        .then(() => {
          // the field is full and its button gone: keep the keyboard in the widget, on the last remove
          if (button.classList.contains('upload-full') && (document.activeElement === button || document.activeElement === document.body)) {
            const removes = list.querySelectorAll('.upload-remove');
            if (removes.length) removes[removes.length - 1].focus();
          }
        });
    });
    render();
  }

  document.addEventListener('submit', (event) => {
    const form = event.target;
    if ((pending.get(form) || 0) > 0) {
      event.preventDefault();
      window.alert(say('wait', {}));
    }
  }, true);

  function init() {
    addStyle();
    document.querySelectorAll('input[type=file][data-upload-for]').forEach(setUp);
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
}());
