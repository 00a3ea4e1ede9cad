// While the playground's requests are generating, poll their status and reload once all have ended.
(function () {
  "use strict";
  var box = document.getElementById("playground-results");
  if (!box || box.getAttribute("data-waiting") !== "1") return;
  var url = box.getAttribute("data-status-url");
  function tick() {
    fetch(url, {credentials: "same-origin"}).then(function (r) { return r.json(); }).then(function (d) {
      if (d.done) window.location.reload();
      else setTimeout(tick, 1000);
    }).catch(function () { setTimeout(tick, 3000); });
  }
  setTimeout(tick, 500);
})();
