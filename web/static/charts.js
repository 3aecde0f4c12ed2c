// Draws a Chart.js chart from each <figure class="chart"> table (web/templates/_charts.html).
// The table stays on the page: it is the accessible form of the numbers. Nothing here evaluates code
// (the page's CSP forbids it), and when Chart.js is missing the tables are simply left as they are.
(function () {
  "use strict";
  var PALETTE = ["#2563eb", "#16a34a", "#f59e0b", "#dc2626", "#7c3aed", "#0891b2", "#db2777", "#65a30d",
                 "#ea580c", "#475569"];

  function readTable(figure) {
    var table = figure.querySelector("table.chart-data");
    var heads = table.querySelectorAll("thead th");
    var rows = table.querySelectorAll("tbody tr");
    var labels = [];
    var series = [];
    for (var h = 1; h < heads.length; h++) series.push({ label: heads[h].textContent, data: [] });
    rows.forEach(function (row) {
      labels.push(row.querySelector("th").textContent);
      row.querySelectorAll("td").forEach(function (cell, i) {
        var value = parseFloat(cell.getAttribute("data-value"));
        series[i].data.push(isNaN(value) ? null : value);
      });
    });
    return { labels: labels, series: series };
  }

  /* A long category label (a question, a flow) is cut with "…" on the axis, where Chart.js would clip
     its start off; the tooltip and the table keep it whole. */
  var LABEL_MAX = 18;
  function shortLabel(value) {
    var label = String(this.getLabelForValue(value));
    return label.length > LABEL_MAX ? label.slice(0, LABEL_MAX - 1) + "…" : label;
  }

  function draw(figure) {
    var kind = figure.getAttribute("data-kind") || "bar";
    var unit = figure.getAttribute("data-unit") || "";
    var numbers = readTable(figure);
    var round = kind === "pie" || kind === "doughnut";
    var colors = (figure.getAttribute("data-colors") || "").split(" ").filter(Boolean);
    var palette = colors.length ? colors.concat(PALETTE) : PALETTE;
    /* whole numbers (requests, people, tasks): no 0.5 steps on the value axis */
    var counts = numbers.series.every(function (s) { return s.data.every(function (v) { return v == null || Number.isInteger(v); }); });
    var datasets = (round ? numbers.series.slice(0, 1) : numbers.series).map(function (s, i) {
      return {
        label: s.label,
        data: s.data,
        backgroundColor: round ? palette.slice(0, s.data.length) : palette[i % palette.length],
        borderColor: round ? "#fff" : palette[i % palette.length],
      };
    });
    var holder = figure.querySelector(".chart-canvas");
    holder.hidden = false;
    figure.classList.add("drawn");
    /* global Chart */
    new Chart(holder.querySelector("canvas"), {
      type: kind === "hbar" ? "bar" : kind,
      data: { labels: numbers.labels, datasets: datasets },
      options: {
        indexAxis: kind === "hbar" ? "y" : "x",
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: {
          legend: { display: round || datasets.length > 1 },
          tooltip: { callbacks: { label: function (ctx) {
            var value = ctx.parsed && typeof ctx.parsed === "object" ? ctx.parsed[kind === "hbar" ? "x" : "y"] : ctx.parsed;
            return (ctx.dataset.label ? ctx.dataset.label + ": " : "") + value + unit;
          } } },
        },
        scales: round ? {} : {
          x: { beginAtZero: true, ticks: kind === "hbar" && counts ? { precision: 0 } : {} },
          y: { beginAtZero: true, ticks: kind === "hbar" ? { callback: shortLabel } : counts ? { precision: 0 } : {} },
        },
      },
    });
  }

  function start() {
    if (typeof Chart === "undefined") return;
    document.querySelectorAll("figure.chart").forEach(function (figure) {
      try { draw(figure); } catch (err) { if (window.console) console.error(err); }
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
