// Plotly figures of dataset and model pages: each `.plot[data-figure-url]` fetches its figure
// (JSON made by training.bc.plots) and draws it.
(function () {
  "use strict";

  async function draw(el) {
    const response = await fetch(el.dataset.figureUrl, { credentials: "same-origin" });
    if (!response.ok) { el.textContent = "This figure is not available."; return; }
    const figure = await response.json();
    const layout = Object.assign({}, figure.layout || {}, { autosize: true });
    await window.Plotly.newPlot(el, figure.data || [], layout, { responsive: true, displaylogo: false });
    el.dataset.drawn = "true";
  }

  function drawAll() {
    if (!window.Plotly) return;
    document.querySelectorAll(".plot[data-figure-url]").forEach((el) => {
      draw(el).catch(() => { el.textContent = "This figure could not be drawn."; });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else { drawAll(); }
})();
