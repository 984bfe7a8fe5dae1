// Live charts of an RL model's training page. The job's websocket (static/js/jobs.js, which
// re-dispatches every job update as a "pitlane:job" event) only says that the job changed; the
// page then fetches the iteration rows it has not drawn yet from the model's history endpoint
// (team-scoped JSON) and redraws the Plotly charts. Without a socket it asks every few seconds.
(function () {
  "use strict";
  const root = document.querySelector("[data-rl-live]");
  if (!root) return;
  const FINISHED = new Set(["succeeded", "failed", "cancelled"]);
  const iterations = [];
  const episodes = [];
  let last = -1;
  let timeLimit = null;
  let loading = null;
  let again = false;

  const LAYOUT = { margin: { l: 52, r: 52, t: 28, b: 44 }, autosize: true,
    legend: { orientation: "h", x: 0, y: 1.02, xanchor: "left", yanchor: "bottom" } };
  const CONFIG = { responsive: true, displaylogo: false };

  function col(rows, key) { return rows.map((r) => (r[key] === undefined ? null : r[key])); }

  function eta(seconds) {
    if (seconds === null || seconds === undefined) return "—";
    const s = Math.max(0, Math.round(seconds));
    if (s >= 3600) return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min`;
    return s >= 60 ? `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s` : `${s} s`;
  }

  function setFigure(name, text) {
    const el = root.querySelector(`[data-figure="${name}"]`);
    if (el) el.textContent = text;
  }

  function bestIteration() {
    const lastRow = iterations[iterations.length - 1];
    if (lastRow && lastRow.best_iteration !== null && lastRow.best_iteration !== undefined) return lastRow.best_iteration;
    let best = null;
    iterations.forEach((r) => {
      if (r.eval_completion_pct !== null && r.eval_completion_pct !== undefined
          && (best === null || r.eval_completion_pct > best.eval_completion_pct)) best = r;
    });
    return best ? best.iteration : null;
  }

  function figures() {
    const r = iterations[iterations.length - 1];
    if (!r) return;
    setFigure("iteration", String(r.iteration + 1));  // iterations are numbered from 0
    setFigure("episodes", String(r.episodes ?? episodes.length));
    setFigure("steps_per_s", r.steps_per_s != null ? Math.round(r.steps_per_s).toLocaleString() : "—");
    setFigure("episodes_per_hour", r.episodes_per_hour != null ? Math.round(r.episodes_per_hour).toLocaleString() : "—");
    const bestIt = bestIteration();
    const best = iterations.find((row) => row.iteration === bestIt);
    setFigure("best", best && best.eval_completion_pct != null
      ? `${best.eval_completion_pct.toFixed(0)} % (iteration ${bestIt})` : "—");
    const finished = FINISHED.has(root.dataset.jobStatus || "") || ["ready", "failed", "cancelled"].includes(root.dataset.status);
    let remaining = r.eta_s;
    if ((remaining === null || remaining === undefined) && timeLimit && r.elapsed_s != null) remaining = timeLimit - r.elapsed_s;
    setFigure("eta", finished ? "finished" : eta(remaining));
  }

  function draw(name, traces, layout) {
    const el = root.querySelector(`[data-chart="${name}"]`);
    if (!el || !window.Plotly) return;
    window.Plotly.react(el, traces, Object.assign({}, LAYOUT, layout || {}), CONFIG);
    el.dataset.drawn = "true";
    el.dataset.points = String(traces.reduce((n, t) => n + (t.x ? t.x.length : 0), 0));
  }

  function redraw() {
    if (!iterations.length) return;
    root.querySelector("[data-chart-empty]").hidden = true;
    const its = col(iterations, "iteration");
    const eps = col(episodes, "episode");
    draw("reward", [
      { x: eps, y: col(episodes, "reward"), mode: "markers", type: "scattergl", name: "episode",
        marker: { size: 4, opacity: 0.45 }, xaxis: "x", yaxis: "y" },
      { x: iterations.map((r) => lastEpisodeOf(r)), y: col(iterations, "reward_mean"), mode: "lines+markers",
        name: "iteration mean", line: { width: 2 } },
    ], { xaxis: { title: { text: "episode" } }, yaxis: { title: { text: "reward" } } });
    draw("progress", [
      { x: eps, y: col(episodes, "progress"), mode: "markers", type: "scattergl", name: "progress",
        marker: { size: 4, opacity: 0.5, color: episodes.map((e) => (e.status === "lap_complete" || e.progress >= 100 ? "#2a9d58" : "#4c78a8")) } },
    ], { xaxis: { title: { text: "episode" } }, yaxis: { title: { text: "% of the lap" }, range: [0, 105] }, showlegend: false });
    const bestIt = bestIteration();
    const best = iterations.filter((r) => r.iteration === bestIt);
    draw("evaluation", [
      { x: its, y: col(iterations, "eval_completion_pct"), mode: "lines+markers", name: "evaluation completion",
        connectgaps: true },
      { x: col(best, "iteration"), y: col(best, "eval_completion_pct"), mode: "markers", name: "best checkpoint",
        marker: { symbol: "star", size: 16, color: "#e4572e" } },
    ], { xaxis: { title: { text: "iteration" } }, yaxis: { title: { text: "%" }, range: [0, 105] } });
    draw("entropy", [
      { x: its, y: col(iterations, "entropy"), mode: "lines+markers", name: "entropy" },
      { x: its, y: col(iterations, "kl"), mode: "lines+markers", name: "KL", yaxis: "y2" },
    ], { xaxis: { title: { text: "iteration" } }, yaxis: { title: { text: "entropy" } },
         yaxis2: { title: { text: "KL" }, overlaying: "y", side: "right" } });
    draw("losses", [
      { x: its, y: col(iterations, "policy_loss"), mode: "lines+markers", name: "policy loss" },
      { x: its, y: col(iterations, "value_loss"), mode: "lines+markers", name: "value loss", yaxis: "y2" },
    ], { xaxis: { title: { text: "iteration" } }, yaxis: { title: { text: "policy" } },
         yaxis2: { title: { text: "value" }, overlaying: "y", side: "right" } });
    figures();
  }

  function lastEpisodeOf(row) {
    let n = null;
    episodes.forEach((e) => { if (e.iteration === row.iteration) n = e.episode; });
    return n !== null ? n : row.episodes;
  }

  async function fetchRows() {
    if (loading) { again = true; return loading; }
    loading = (async () => {
      let more = true;
      while (more) {
        const response = await fetch(`${root.dataset.historyUrl}?after=${last}`, { credentials: "same-origin" });
        if (!response.ok) break;
        const data = await response.json();
        timeLimit = data.time_limit_s;
        root.dataset.status = data.status;
        root.dataset.jobStatus = data.job_status || "";
        // A re-run after a lost worker may report an iteration again: the newer row wins.
        data.iterations.forEach((row) => {
          const i = iterations.findIndex((r) => r.iteration === row.iteration);
          if (i >= 0) iterations.splice(i, 1);
          iterations.push(row);
        });
        const fresh = new Set(data.iterations.map((r) => r.iteration));
        for (let i = episodes.length - 1; i >= 0; i--) if (fresh.has(episodes[i].iteration)) episodes.splice(i, 1);
        episodes.push(...data.episodes);
        last = data.last;
        more = data.more;
      }
      redraw();
    })().finally(() => {
      loading = null;
      if (again) { again = false; fetchRows(); }
    });
    return loading;
  }

  document.addEventListener("pitlane:job", (event) => {
    if (String(event.detail.id) === root.dataset.jobId) fetchRows();
  });
  setInterval(() => {
    const finished = ["ready", "failed", "cancelled"].includes(root.dataset.status);
    if (!finished && document.body.dataset.live !== "on") fetchRows();
  }, 5000);

  function start() { fetchRows(); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
  window.addEventListener("load", redraw);
})();
