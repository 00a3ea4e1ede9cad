// Live progress bars on the dashboard: poll the jobs it shows until each one ends (no library, no network
// beyond this site).
(function () {
  "use strict";
  var box = document.getElementById("dash-jobs");
  if (!box) return;
  var jobs = Array.prototype.slice.call(box.querySelectorAll("li.job"));
  if (!jobs.length) return;
  var url = box.getAttribute("data-progress-url");
  function ids(kind) {
    return jobs.filter(function (li) { return li.getAttribute("data-kind") === kind; })
               .map(function (li) { return li.getAttribute("data-id"); }).join(",");
  }
  var query = "?runs=" + ids("runs") + "&imports=" + ids("imports");
  function detail(kind, row) {
    if (kind === "runs") {
      var eta = row.eta_seconds != null && row.status === "running" ? " · " + Math.round(row.eta_seconds) + " s left" : "";
      return "step " + row.step + " / " + row.total_steps + eta;
    }
    return row.rows_read + " rows read";
  }
  function tick() {
    fetch(url + query, {credentials: "same-origin"}).then(function (r) { return r.json(); }).then(function (d) {
      var active = 0;
      ["runs", "imports"].forEach(function (kind) {
        (d[kind] || []).forEach(function (row) {
          var li = box.querySelector('li.job[data-kind="' + kind + '"][data-id="' + row.id + '"]');
          if (!li) return;
          li.querySelector("progress").value = row.progress;
          li.querySelector(".job-status").textContent = row.status + " · " + detail(kind, row);
          li.setAttribute("data-status", row.status);
          if (row.status === "pending" || row.status === "running") active += 1;
        });
      });
      if (active) setTimeout(tick, 2000);
    }).catch(function () { setTimeout(tick, 5000); });
  }
  tick();
})();
