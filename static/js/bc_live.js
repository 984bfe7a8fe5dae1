// Live loss chart of a behavioural-cloning model while it trains. The job's websocket
// (static/js/jobs.js re-dispatches every job update as a "pitlane:job" event) says the job moved;
// when its epoch changed the page fetches the model's loss history (team-scoped JSON, written
// after every epoch) and redraws the Plotly chart. Without a socket it asks every 5 seconds.
(function () {
  "use strict";
  const root = document.querySelector("[data-bc-live]");
  if (!root) return;
  const FINISHED = ["ready", "failed", "cancelled"];
  let lastEpoch = null;
  let loading = null;
  let again = false;

  const LAYOUT = { margin: { l: 56, r: 20, t: 20, b: 44 }, autosize: true,
    xaxis: { title: { text: "epoch" }, dtick: 1 }, yaxis: { title: { text: "loss" } },
    legend: { orientation: "h", x: 0, y: 1.02, xanchor: "left", yanchor: "bottom" } };

  function epochs(values) { return values.map((_, i) => i + 1); }

  function draw(data) {
    const el = root.querySelector('[data-chart="loss"]');
    const h = data.history || {};
    const traces = [];
    if (h.loss && h.loss.length) traces.push({ x: epochs(h.loss), y: h.loss, mode: "lines+markers", name: "training loss" });
    if (h.val_loss && h.val_loss.length) traces.push({ x: epochs(h.val_loss), y: h.val_loss, mode: "lines+markers", name: "validation loss" });
    if (data.kept_epoch) {
      traces.push({ x: [data.kept_epoch], y: [h.val_loss[data.kept_epoch - 1]], mode: "markers",
        name: `best so far: epoch ${data.kept_epoch}`, marker: { symbol: "star", size: 14, color: "#e4572e" } });
    }
    if (!traces.length || !window.Plotly) return;
    root.querySelector("[data-chart-empty]").hidden = true;
    const layout = Object.assign({}, LAYOUT);
    if (data.epochs) layout.xaxis = Object.assign({}, LAYOUT.xaxis, { range: [0.5, data.epochs + 0.5] });
    window.Plotly.react(el, traces, layout, { responsive: true, displaylogo: false });
    el.dataset.drawn = "true";
    el.dataset.epochs = String((h.loss || []).length);
  }

  async function load() {
    if (loading) { again = true; return loading; }
    loading = (async () => {
      const response = await fetch(root.dataset.historyUrl, { credentials: "same-origin" });
      if (!response.ok) return;
      const data = await response.json();
      root.dataset.status = data.status;
      draw(data);
    })().finally(() => {
      loading = null;
      if (again) { again = false; load(); }
    });
    return loading;
  }

  document.addEventListener("pitlane:job", (event) => {
    const job = event.detail;
    if (String(job.id) !== root.dataset.jobId) return;
    const m = job.metrics || {};
    // Batch updates come several times a second: fetch only when an epoch ended (its val_loss
    // arrives with it) or a new one began, or the job ended.
    const key = `${m.epoch}|${m.val_loss}`;
    if (key === lastEpoch && !["succeeded", "failed", "cancelled"].includes(job.status)) return;
    lastEpoch = key;
    load();
  });
  setInterval(() => {
    if (!FINISHED.includes(root.dataset.status) && document.body.dataset.live !== "on") load();
  }, 5000);

  function start() { load(); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
  window.addEventListener("load", () => load());
})();
