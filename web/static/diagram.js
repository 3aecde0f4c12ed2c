/* Draws an instance's BPMN diagram with the bpmn-js viewer (global `BpmnJS`, /vendor/bpmn-viewer.js).

   <div data-diagram-url="/instances/7/diagram.xml" data-done='["start","review"]' data-current='["approve"]'>
   Elements passed get the marker `lf-done`, the ones waiting now `lf-current` (styled by the page).
   A heat map instead passes data-heat='{"review": {"level": 4, "title": "Review: median 6 h"}}': each
   element gets the marker `lf-heat-<level>` (0..4) and its title shows on hover.
   Path frequencies pass data-flows='{"f1": {"width": 3, "count": 12, "title": "12 requests"}}': each flow
   gets the marker `lf-flow-<width>` (1..4: thicker for more), its count as a label and its title on hover.
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
    heat(container, canvas, registry);
    flows(container, canvas, registry, viewer.get('overlays'));
    canvas.zoom('fit-viewport', 'auto');
  }

  function heat(container, canvas, registry) {
    var value;
    try {
      value = JSON.parse(container.getAttribute('data-heat') || '{}') || {};
    } catch (err) {
      value = {};
    }
    Object.keys(value).forEach(function (id) {
      var element = registry.get(id);
      if (!element) return;
      canvas.addMarker(id, 'lf-heat-' + value[id].level);
      var gfx = registry.getGraphics(id);
      var title = document.createElementNS('http://www.w3.org/2000/svg', 'title');
      title.textContent = value[id].title;
      gfx.insertBefore(title, gfx.firstChild);
      gfx.setAttribute('data-heat-level', String(value[id].level));
    });
  }

  function flows(container, canvas, registry, overlays) {
    var value;
    try {
      value = JSON.parse(container.getAttribute('data-flows') || '{}') || {};
    } catch (err) {
      value = {};
    }
    Object.keys(value).forEach(function (id) {
      var element = registry.get(id);
      if (!element || !element.waypoints || !element.waypoints.length) return;
      canvas.addMarker(id, 'lf-flow-' + value[id].width);
      var gfx = registry.getGraphics(id);
      var title = document.createElementNS('http://www.w3.org/2000/svg', 'title');
      title.textContent = value[id].title;
      gfx.insertBefore(title, gfx.firstChild);
      gfx.setAttribute('data-flow-count', String(value[id].count));
      var points = element.waypoints;
      var half = Math.max(1, Math.floor(points.length / 2));
      var a = points[half - 1], b = points[half];
      var minX = Math.min.apply(null, points.map(function (p) { return p.x; }));
      var minY = Math.min.apply(null, points.map(function (p) { return p.y; }));
      var label = document.createElement('span');
      label.className = 'lf-flow-count';
      label.title = value[id].title;
      label.textContent = String(value[id].count);
      overlays.add(id, 'flow-count', {
        position: { left: (a.x + b.x) / 2 - minX - 8, top: (a.y + b.y) / 2 - minY - 18 },
        html: label
      });
    });
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
