/* Draws an instance's BPMN diagram with the bpmn-js viewer (global `BpmnJS`, /vendor/bpmn-viewer.js).

   <div data-diagram-url="/instances/7/diagram.xml" data-done='["start","review"]' data-current='["approve"]'>
   Elements passed get the marker `lf-done`, the ones waiting now `lf-current` (styled by the page).
   The container's data-state ends as "ready", "failed" or "unavailable" (tests and screenshots wait for it).
*/
(function () {
  'use strict';

  function ids(container, name) {
    try {
      var value = JSON.parse(container.getAttribute(name) || '[]');
      return Array.isArray(value) ? value : [];
    } catch (err) {
      return [];
    }
  }

  function fail(container, err) {
    container.setAttribute('data-state', 'failed');
    container.textContent = container.getAttribute('data-failed-text') || 'The diagram could not be shown.';
    if (window.console && err) window.console.warn('diagram:', err);
  }

  function mark(viewer, container) {
    var canvas = viewer.get('canvas');
    var registry = viewer.get('elementRegistry');
    var current = ids(container, 'data-current');
    ids(container, 'data-done').forEach(function (id) {
      if (registry.get(id) && current.indexOf(id) < 0) canvas.addMarker(id, 'lf-done');
    });
    current.forEach(function (id) {
      if (registry.get(id)) canvas.addMarker(id, 'lf-current');
    });
    canvas.zoom('fit-viewport', 'auto');
  }

  function show(container) {
    if (typeof window.BpmnJS !== 'function') {
      container.setAttribute('data-state', 'unavailable');
      return;
    }
    container.setAttribute('data-state', 'loading');
    var viewer = new window.BpmnJS({ container: container });
    fetch(container.getAttribute('data-diagram-url'), { credentials: 'same-origin' })
      .then(function (response) {
        if (!response.ok) throw new Error('HTTP ' + response.status);
        return response.text();
      })
      .then(function (xml) { return viewer.importXML(xml); })
      .then(function () {
        mark(viewer, container);
        container.setAttribute('data-state', 'ready');
      })
      .catch(function (err) { fail(container, err); });
  }

  function showAll() {
    Array.prototype.forEach.call(document.querySelectorAll('[data-diagram-url]'), show);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', showAll);
  else showAll();
}());
