// The project board: drag a task card to another column (SortableJS) to move it. The move is posted to the
// same route as the card's keyboard-usable "Move" form; the page then reloads, so what it shows is what the
// engine recorded (a refused move puts the card back with the reason).
(function () {
  "use strict";
  var board = document.getElementById("board");
  if (!board || typeof Sortable === "undefined") { return; }
  var csrf = board.getAttribute("data-csrf");
  function move(card, status) {
    var body = new URLSearchParams();
    body.set("csrf_token", csrf);
    body.set("status", status);
    fetch(card.getAttribute("data-move-url"), {
      method: "POST", body: body, credentials: "same-origin",
      headers: {"Accept": "application/json", "X-CSRFToken": csrf}
    }).then(function (response) {
      return response.json().then(function (answer) {
        if (!response.ok) { window.alert(answer.error || response.statusText); }
        window.location.reload();
      });
    }).catch(function () { window.location.reload(); });
  }
  board.querySelectorAll(".cards-list").forEach(function (list) {
    Sortable.create(list, {
      group: "board", animation: 150, filter: "select, button, a", preventOnFilter: false,
      onEnd: function (event) {
        if (event.from === event.to) { return; }
        move(event.item, event.to.getAttribute("data-status"));
      }
    });
  });
}());
