// The dataset page's "thinning straight driving" card: the steering histogram before and after
// keeping a share of the frames whose steering is exactly 0. The server computes it with the
// function training uses (training.bc.thinning), so the picture is what a run would train on.
(function () {
  "use strict";
  const card = document.querySelector("[data-thinning]");
  if (!card) return;
  const input = card.querySelector("input[name=keep]");
  const output = card.querySelector("[data-thinning-value]");
  const summary = card.querySelector("[data-thinning-summary]");
  const plot = card.querySelector("[data-thinning-plot]");
  let pending = 0;

  function percent(share) { return (100 * share).toFixed(0) + " %"; }

  async function draw() {
    const keep = Number(input.value);
    output.textContent = keep.toFixed(2);
    const ticket = ++pending;
    const response = await fetch(`${plot.dataset.url}?${new URLSearchParams({ keep })}`, { credentials: "same-origin" });
    if (ticket !== pending) return;  // a later position of the slider is on its way
    if (!response.ok) { plot.textContent = "This figure is not available."; return; }
    const figure = await response.json();
    const s = figure.summary;
    summary.textContent = `Keeping ${keep.toFixed(2)} of the ${s.straight_before.toLocaleString()} straight frames: `
      + `${s.frames_after.toLocaleString()} of ${s.frames_before.toLocaleString()} frames remain, `
      + `${percent(s.straight_share_after)} of them straight (${percent(s.straight_share_before)} before).`;
    if (!window.Plotly) return;
    const layout = Object.assign({}, figure.layout || {}, { autosize: true });
    await window.Plotly.react(plot, figure.data || [], layout, { responsive: true, displaylogo: false });
    plot.dataset.drawn = String(keep);
  }

  let timer = null;
  input.addEventListener("input", () => {
    output.textContent = Number(input.value).toFixed(2);
    clearTimeout(timer);
    timer = setTimeout(() => draw().catch(() => { plot.textContent = "This figure could not be drawn."; }), 150);
  });
  card.querySelector("[data-thinning-form]").addEventListener("submit", (e) => e.preventDefault());
  function start() { draw().catch(() => { plot.textContent = "This figure could not be drawn."; }); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
