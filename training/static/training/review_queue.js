// The review queue's keyboard: a accept, r reject, c needs changes, 1-5 score, n next (skip).
(function () {
  const form = document.getElementById("review-form");
  if (!form) return;
  const verdicts = { a: "accept", r: "reject", c: "needs_changes" };
  document.addEventListener("keydown", function (event) {
    const t = event.target;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (t && (t.tagName === "TEXTAREA" || (t.tagName === "INPUT" && t.type === "text"))) return;
    const key = event.key.toLowerCase();
    if (verdicts[key]) {
      event.preventDefault();
      const button = form.querySelector('button[name="verdict"][value="' + verdicts[key] + '"]');
      form.requestSubmit(button);
    } else if (/^[1-5]$/.test(key)) {
      event.preventDefault();
      form.querySelector('input[name="score"][value="' + key + '"]').checked = true;
    } else if (key === "n") {
      event.preventDefault();
      window.location.href = form.dataset.skipUrl;
    }
  });
})();
