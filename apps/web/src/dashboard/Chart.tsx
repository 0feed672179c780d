// One time-series chart drawn by uPlot (canvas). The chart is created once per set of series and
// fed new data in place each snapshot; it keeps a fixed height and follows its box's width. Screen
// readers get the chart's name and a table of the latest values instead of the canvas.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { ChartSpec } from './chartSpecs.js';
import { formatNumber } from './format.js';
import { colourOf } from './palette.js';
import type { SeriesHistory } from './SeriesHistory.js';

const PLOT_HEIGHT = 180;
/** Time-axis tick steps (s): whole seconds and minutes, never fractions. */
const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300];
const clockTime = (seconds: number) => new Date(seconds * 1000).toLocaleTimeString(undefined, { hour12: false });

export function Chart({ spec, history, version }: { spec: ChartSpec; history: SeriesHistory; version: number }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | undefined>(undefined);
  const names = history.names();
  const format = (value: number | null | undefined) => (value === null || value === undefined ? '–' : `${formatNumber(value, spec.digits ?? 1)}${spec.unit ? ` ${spec.unit}` : ''}`);

  // A new chart only when the set of series changes (a process or service came or went).
  useEffect(() => {
    const element = box.current;
    if (!element) return;
    const chart = new uPlot(
      {
        width: Math.max(200, element.clientWidth),
        height: PLOT_HEIGHT,
        scales: { x: { time: true } },
        axes: [{ stroke: '#4a5058', incrs: TIME_STEPS, space: 70, values: (_chart, splits) => splits.map(clockTime) }, { stroke: '#4a5058', size: 56 }],
        series: [{}, ...names.map((name, index) => ({ label: name, stroke: colourOf(index), width: 2, ...(spec.dashed?.(name) ? { dash: [6, 4] } : {}), value: (_chart: uPlot, value: number | null) => format(value) }))],
        legend: { live: false },
        cursor: { drag: { x: false, y: false } },
      },
      history.aligned(names),
      element,
    );
    plot.current = chart;
    const resize = new ResizeObserver(() => chart.setSize({ width: Math.max(200, element.clientWidth), height: PLOT_HEIGHT }));
    resize.observe(element);
    return () => {
      resize.disconnect();
      chart.destroy();
      plot.current = undefined;
    };
  }, [names.join('\n')]);

  useEffect(() => {
    plot.current?.setData(history.aligned(names));
  }, [version]);

  const titleId = `chart-${spec.id}-title`;
  return (
    <figure class="chart" aria-labelledby={titleId} data-chart={spec.id} data-points={history.length}>
      <figcaption id={titleId}>
        {spec.title}
        {spec.unit ? ` (${spec.unit})` : ''}
      </figcaption>
      <div class="plot" ref={box} role="img" aria-label={`${spec.title}: the last five minutes; latest values in the table that follows`} />
      <table class="visually-hidden">
        <caption>{spec.title}: latest values</caption>
        <thead>
          <tr>
            <th scope="col">Series</th>
            <th scope="col">Latest</th>
            <th scope="col">Highest in five minutes</th>
          </tr>
        </thead>
        <tbody>
          {names.length === 0 ? (
            <tr>
              <td colSpan={3}>No data yet</td>
            </tr>
          ) : (
            names.map((name) => (
              <tr key={name}>
                <th scope="row">{name}</th>
                <td>{format(history.latest(name))}</td>
                <td>{format(history.peak(name))}</td>
              </tr>
            ))
          )}
        </tbody>
      </table>
    </figure>
  );
}
