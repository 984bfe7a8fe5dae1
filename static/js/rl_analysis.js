// Log-analysis page of an RL model: draw each figure the page embeds (JSON from
// training.rl.plots, in <script id="analysis-figures">) into its [data-analysis-figure] box.
(function () {
  "use strict";
  const source = document.getElementById("analysis-figures");
  if (!source || !window.Plotly) return;
  const figures = JSON.parse(source.textContent) || {};
  const config = { responsive: true, displaylogo: false };
  const drawn = Array.from(document.querySelectorAll("[data-analysis-figure]")).map((el) => {
    const figure = figures[el.dataset.analysisFigure];
    if (!figure) { el.textContent = "Nothing to show for these iterations."; return Promise.resolve(); }
    const layout = Object.assign({}, figure.layout || {}, { autosize: true });
    // On the track maps the legend goes under the map, so it never covers the track.
    if (el.closest(".map")) layout.legend = Object.assign({}, layout.legend, { orientation: "h", x: 0, y: -0.08 });
    return window.Plotly.newPlot(el, figure.data || [], layout, config).then(() => { el.dataset.rendered = "yes"; });
  });
  Promise.all(drawn).then(() => { document.body.dataset.analysisDrawn = "yes"; });
})();
