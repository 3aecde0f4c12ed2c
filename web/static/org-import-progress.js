/* The org import's progress page: polls the job's JSON every second, moves the <progress> bar,
   and reloads the page when the job ends (the server then shows the summary or the error).
   Without JavaScript the page refreshes itself (<noscript> meta refresh) and has a link. */
(function () {
  "use strict";
  var box = document.getElementById("import-progress");
  if (!box || !window.fetch) { return; }
  var url = box.getAttribute("data-job-url");
  var template = box.getAttribute("data-text") || "{done} / {total}";
  var bar = box.querySelector("progress");
  var text = box.querySelector("[data-progress-text]");
  var failures = 0;

  function show(job) {
    var total = job.total || 0;
    bar.max = total || 1;
    bar.value = total ? Math.min(job.done, total) : 0;
    bar.textContent = job.done + " / " + total;
    if (text) { text.textContent = template.replace("{done}", job.done).replace("{total}", total); }
  }

  function poll() {
    fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (job) {
        failures = 0;
        show(job);
        if (job.status !== box.getAttribute("data-status")) {  // started or ended: the server says what it means
          window.location.reload();
          return;
        }
        window.setTimeout(poll, 1000);
      })
      .catch(function () {
        failures += 1;  // the server is busy or gone for a moment: slow down, keep trying
        window.setTimeout(poll, Math.min(1000 * Math.pow(2, failures), 30000));
      });
  }

  window.setTimeout(poll, 1000);
}());
