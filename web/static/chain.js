/* The start page's approval chain (issue 11, item 12): as the form changes, post its values (with the
 * CSRF token the form holds) to #approval-chain's data-url, debounced, and show the answer's `html`.
 * Plain ES2017, no dependencies; without it the page shows the chain for the values it was rendered with.
 */
(function () {
  'use strict';

  const box = document.getElementById('approval-chain');
  const submit = document.getElementById('start-submit');
  const form = submit && submit.form;
  if (!box || !form) {
    return;
  }
  const list = box.querySelector('[data-chain-list]');
  const DELAY = 350;  // ms after the last change before asking the server
  let timer = null;
  let asked = 0;

  function values() {
    const body = new FormData(form);
    for (const [name, value] of Array.from(body.entries())) {
      if (typeof value !== 'string' || name === 'action') {
        body.delete(name);  // files are not sent: the chain never depends on them
      }
    }
    return body;
  }

  function refresh() {
    const number = ++asked;
    box.setAttribute('aria-busy', 'true');
    fetch(box.dataset.url, { method: 'POST', body: values(), credentials: 'same-origin',
                             headers: { Accept: 'application/json' } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (answer) {
        if (answer && number === asked) {
          list.innerHTML = answer.html;  // rendered and escaped by the server's template
          box.dataset.refreshed = String(number);
        }
      })
      .catch(function () { /* keep what is shown */ })
      .finally(function () {
        if (number === asked) {
          box.removeAttribute('aria-busy');
        }
      });
  }

  function later() {
    clearTimeout(timer);
    timer = setTimeout(refresh, DELAY);
  }

  form.addEventListener('input', later);
  form.addEventListener('change', later);
})();
