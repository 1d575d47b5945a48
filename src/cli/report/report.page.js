// Draws the report's charts with uPlot (inlined before this script): one chart per tag, one
// series per run in the run's colour, steps aligned across runs with uPlot.join (a run without
// that step gets a gap; sparse series such as eval loss are drawn through their points). The
// "log scale" box redraws every chart with a logarithmic y axis (values ≤ 0 left out).
// Browser code, not type-checked: tsc's DOM library would change the types of the Node code.
/* global uPlot */
(() => {
  const element = document.getElementById("report-data")
  if (element === null || element.textContent === null) throw new Error("report data missing")
  const data = JSON.parse(element.textContent)
  const container = document.getElementById("charts")
  const logScale = document.getElementById("log-scale")
  const height = 260
  const widthOf = (box) => Math.max(320, box.clientWidth - 12)
  const boxes = data.tags.map(() => {
    const box = document.createElement("div")
    box.className = "chart"
    container.appendChild(box)
    return box
  })
  let plots = []
  const draw = () => {
    for (const plot of plots) plot.destroy()
    const log = logScale !== null && logScale.checked
    plots = data.tags.map((tag, t) => {
      const tables = data.runs.map((run) => {
        const [steps, values] = run.scalars[tag] ?? [[], []]
        return [steps, log ? values.map((v) => (v > 0 ? v : null)) : values]
      })
      const opts = {
        title: tag,
        width: widthOf(boxes[t]),
        height,
        scales: { x: { time: false }, y: log ? { distr: 3 } : {} },
        axes: [{ label: "step" }, { size: 70 }],
        series: [
          { label: "step" },
          ...data.runs.map((run, i) => ({
            label: run.id,
            stroke: run.color,
            width: 1.5,
            spanGaps: true,
            points: { show: tables[i][0].length < 40 }
          }))
        ]
      }
      return new uPlot(opts, uPlot.join(tables), boxes[t])
    })
  }
  draw()
  if (logScale !== null) logScale.addEventListener("change", draw)
  window.addEventListener("resize", () => {
    plots.forEach((plot, t) => plot.setSize({ width: widthOf(boxes[t]), height }))
  })
})()
