/* Draws a version's diagram on the version diff page with the bpmn-js viewer (global `BpmnJS`,
   /vendor/bpmn-viewer.js) and marks the elements the diff names:

   <div data-diff-diagram-url="/designer/KEY/versions/2.bpmn" data-added='["a"]' data-changed='["b"]' data-removed='[]'>
   Markers: `lf-added`, `lf-changed`, `lf-removed` (designer/static/versions.css). The container's
   data-state ends as "ready", "failed" or "unavailable" (tests wait for it).
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

  function mark(viewer, container) {
    var canvas = viewer.get('canvas');
    var registry = viewer.get('elementRegistry');
    ['added', 'changed', 'removed'].forEach(function (kind) {
      ids(container, 'data-' + kind).forEach(function (id) {
        if (registry.get(id)) canvas.addMarker(id, 'lf-' + kind);
      });
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
    fetch(container.getAttribute('data-diff-diagram-url'), { credentials: 'same-origin' })
      .then(function (response) {
        if (!response.ok) throw new Error('HTTP ' + response.status);
        return response.text();
      })
      .then(function (xml) { return viewer.importXML(xml); })
      .then(function () {
        mark(viewer, container);
        var details = container.closest('details');
        if (details) {  // drawn while folded away: fit it to its box once it is opened
          details.addEventListener('toggle', function () {
            if (details.open) viewer.get('canvas').zoom('fit-viewport', 'auto');
          });
        }
        container.setAttribute('data-state', 'ready');
      })
      .catch(function (err) {
        container.setAttribute('data-state', 'failed');
        container.textContent = container.getAttribute('data-failed-text') || 'The diagram could not be shown.';
        if (window.console && err) window.console.warn('diagram:', err);
      });
  }

  function showAll() {
    Array.prototype.forEach.call(document.querySelectorAll('[data-diff-diagram-url]'), show);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', showAll);
  else showAll();
}());
