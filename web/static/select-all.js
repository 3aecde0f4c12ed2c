/* "Select all" for the inbox's batch approval: a header checkbox [data-select-all=NAME] (hidden without
 * this script) checks or clears every checkbox named NAME that belongs to the same form, and shows
 * "some" (indeterminate) when only part of them are checked. Plain ES2017, no dependencies. */
(function () {
  'use strict';
  document.querySelectorAll('input[data-select-all]').forEach(function (all) {
    const name = all.dataset.selectAll;
    const boxes = function () {
      return Array.from(document.querySelectorAll('input[type=checkbox][name="' + name + '"]'))
        .filter(function (box) { return box.form === all.form; });
    };
    const sync = function () {
      const list = boxes();
      const checked = list.filter(function (box) { return box.checked; }).length;
      all.checked = list.length > 0 && checked === list.length;
      all.indeterminate = checked > 0 && checked < list.length;
    };
    all.addEventListener('change', function () {
      boxes().forEach(function (box) { box.checked = all.checked; });
      all.indeterminate = false;
    });
    boxes().forEach(function (box) { box.addEventListener('change', sync); });
    all.closest('[hidden]') && all.closest('[hidden]').removeAttribute('hidden');
    sync();
  });
})();
