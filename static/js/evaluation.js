// Evaluation page: draw the track plot (Plotly, served locally). While the evaluation runs, its live
// job block (data-reload-when-done, static/js/jobs.js) reloads the page into the results.
(function () {
  "use strict";
  const figure = document.getElementById("track-figure");
  const plot = document.querySelector("[data-track-plot]");
  if (figure && plot && window.Plotly) {
    const fig = JSON.parse(figure.textContent);
    window.Plotly.newPlot(plot, fig.data, fig.layout, { responsive: true, displaylogo: false })
      .then(() => { plot.dataset.rendered = "yes"; });
  }
})();
