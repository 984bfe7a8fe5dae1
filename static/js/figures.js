// Plotly figures of dataset and model pages: each `.plot[data-figure-url]` fetches its figure
// (JSON made by workers.bc.plots) and draws it. A live job box marked data-reload-when-done
// reloads the page once the job succeeds, so the new plots appear.
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

  function reloadWhenDone() {
    const box = document.querySelector("[data-reload-when-done]");
    if (!box) return;
    new MutationObserver(() => {
      const status = box.dataset.status;
      if (status === "succeeded" || status === "failed" || status === "cancelled") {
        setTimeout(() => window.location.reload(), 800);
      }
    }).observe(box, { attributes: true, attributeFilter: ["data-status"] });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", () => { drawAll(); reloadWhenDone(); });
  } else { drawAll(); reloadWhenDone(); }
})();
