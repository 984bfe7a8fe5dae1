// League page: the sim-to-real gap per team (physical best lap / virtual best lap) as a Plotly bar
// chart (plotly.js served locally), teams with the smallest gap on top, a line at 1.0 (as fast on
// the real track as in the simulator).
(function () {
  "use strict";
  function draw() {
    const holder = document.getElementById("gap-chart");
    const source = document.getElementById("gap-chart-data");
    if (!holder || !source || !window.Plotly) return;
    const rows = JSON.parse(source.textContent).slice().reverse(); // Plotly draws the first bar lowest
    const fmt = (s) => s.toFixed(3) + " s";
    const bars = {
      type: "bar",
      orientation: "h",
      name: "physical ÷ virtual",
      y: rows.map((r) => r.team),
      x: rows.map((r) => r.gap),
      text: rows.map((r) => "× " + r.gap.toFixed(2)),
      textposition: "auto",
      marker: { color: rows.map((r) => (r.gap <= 1.0 ? "#2e7d32" : "#c0392b")) },
      customdata: rows.map((r) => [fmt(r.virtual), fmt(r.physical)]),
      hovertemplate: "%{y}<br>virtual best %{customdata[0]}<br>physical best %{customdata[1]}<br>gap × %{x:.3f}<extra></extra>",
    };
    const high = Math.max(1.0, ...rows.map((r) => r.gap));
    const layout = {
      height: Math.max(220, 60 + 34 * rows.length),
      margin: { l: 140, r: 20, t: 30, b: 50 },
      title: { text: "Sim-to-real gap (physical best ÷ virtual best)", font: { size: 14 } },
      xaxis: { title: { text: "gap (×)" }, range: [0, high * 1.1], zeroline: false },
      shapes: [{ type: "line", x0: 1, x1: 1, yref: "paper", y0: 0, y1: 1, line: { dash: "dot", color: "#555" } }],
      showlegend: false,
      paper_bgcolor: "rgba(0,0,0,0)",
    };
    window.Plotly.newPlot(holder, [bars], layout, { responsive: true, displaylogo: false })
      .then(() => holder.setAttribute("data-drawn", "1"));
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
