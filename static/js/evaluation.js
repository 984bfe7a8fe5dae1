// Evaluation page: draw the track plot (Plotly, served locally) and reload once the live job
// succeeds, so the results, plot and lap table appear without a manual refresh.
(function () {
  "use strict";
  const figure = document.getElementById("track-figure");
  const plot = document.querySelector("[data-track-plot]");
  if (figure && plot && window.Plotly) {
    const fig = JSON.parse(figure.textContent);
    window.Plotly.newPlot(plot, fig.data, fig.layout, { responsive: true, displaylogo: false })
      .then(() => { plot.dataset.rendered = "yes"; });
  }
  const live = document.querySelector("[data-evaluation-job]");
  if (!live || live.dataset.status === "succeeded") return;
  new MutationObserver(() => {
    if (live.dataset.status === "succeeded") setTimeout(() => location.reload(), 300);
  }).observe(live, { attributes: true, attributeFilter: ["data-status"] });
})();
