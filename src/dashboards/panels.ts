/**
 * The panel kinds the dashboards are made of, built with Grafana's foundation SDK: every query goes to
 * the data source the user picks (`${datasource}`), units are always set, legends are tables with the
 * last and largest value.
 */
import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import { BigValueColorMode, BigValueGraphMode, LegendDisplayMode, LegendPlacement, ReduceDataOptionsBuilder, SortOrder, StackingConfigBuilder, StackingMode, TooltipDisplayMode, VizLegendOptionsBuilder, VizTooltipOptionsBuilder } from '@grafana/grafana-foundation-sdk/common';
import { MappingType, RowBuilder, ThresholdsConfigBuilder, ThresholdsMode, type Panel, type ValueMapping } from '@grafana/grafana-foundation-sdk/dashboard';
import { HeatmapColorOptionsBuilder, HeatmapColorMode, HeatmapColorScale, PanelBuilder as HeatmapPanel, YAxisConfigBuilder } from '@grafana/grafana-foundation-sdk/heatmap';
import { DataqueryBuilder, PromQueryFormat } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatPanel } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TimeseriesPanel } from '@grafana/grafana-foundation-sdk/timeseries';

/** Every panel and query asks the data source chosen in the dashboard's `datasource` variable. */
export const DATASOURCE = { type: 'prometheus', uid: '${datasource}' } as const;

/** One PromQL expression of a panel and how its series are named (`{{label}}` placeholders). */
export interface Query {
  expr: string;
  legend: string;
}

export type PanelBuilder = cog.Builder<Panel>;

/** Grid sizes: 24 columns wide; a graph is half a row, a stat a sixth. */
const GRAPH = { w: 12, h: 8 };
const STAT = { w: 4, h: 4 };

const refId = (i: number): string => String.fromCharCode(65 + i);

function target(q: Query, i: number, format?: PromQueryFormat): DataqueryBuilder {
  const b = new DataqueryBuilder().datasource(DATASOURCE).refId(refId(i)).expr(q.expr).legendFormat(q.legend).range();
  return format ? b.format(format) : b;
}

const legend = () => new VizLegendOptionsBuilder().showLegend(true).displayMode(LegendDisplayMode.Table).placement(LegendPlacement.Bottom).calcs(['lastNotNull', 'max']);
const tooltip = () => new VizTooltipOptionsBuilder().mode(TooltipDisplayMode.Multi).sort(SortOrder.Descending);

export interface GraphOptions {
  /** Shown under the panel's (i) icon. Default: none. */
  description?: string;
  /** Stack the series (parts of one whole, e.g. queues). Default false. */
  stacked?: boolean;
  /** Lowest value of the axis. Default 0 (every graph here counts or times something). */
  min?: number;
  /** Highest value of the axis. Default: from the data. */
  max?: number;
}

/** A time series graph of `queries` in `unit` (a Grafana unit id: `s`, `bytes`, `reqps`, `percentunit`, ...). */
export function graph(title: string, unit: string, queries: readonly Query[], opts: GraphOptions = {}): PanelBuilder {
  const b = new TimeseriesPanel()
    .title(title)
    .datasource(DATASOURCE)
    .unit(unit)
    .min(opts.min ?? 0)
    .gridPos({ x: 0, y: 0, ...GRAPH })
    .legend(legend())
    .tooltip(tooltip())
    .fillOpacity(opts.stacked ? 30 : 10)
    .lineWidth(1)
    .stacking(new StackingConfigBuilder().mode(opts.stacked ? StackingMode.Normal : StackingMode.None));
  if (opts.description) b.description(opts.description);
  if (opts.max !== undefined) b.max(opts.max);
  queries.forEach((q, i) => b.withTarget(target(q, i)));
  return b;
}

export interface StatOptions {
  /** Shown under the panel's (i) icon. Default: none. */
  description?: string;
  /** Value → text and colour, e.g. 1 → OK. Default: none. */
  mappings?: Record<string, { text: string; color: string }>;
  /** Thresholds from the base colour up, e.g. `[['green'], ['red', 1]]`. Default: one green step. */
  thresholds?: readonly (readonly [string, number?])[];
  /** Width in grid columns (of 24). Default 4. */
  width?: number;
}

/** A single big number (the last value of each series of `queries`). */
export function stat(title: string, unit: string, queries: readonly Query[], opts: StatOptions = {}): PanelBuilder {
  const steps = (opts.thresholds ?? [['green']]).map(([color, value]) => ({ color, value: value ?? null }));
  const b = new StatPanel()
    .title(title)
    .datasource(DATASOURCE)
    .unit(unit)
    .gridPos({ x: 0, y: 0, w: opts.width ?? STAT.w, h: STAT.h })
    .graphMode(BigValueGraphMode.Area)
    .colorMode(BigValueColorMode.Background)
    .reduceOptions(new ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false))
    .thresholds(new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps(steps));
  if (opts.description) b.description(opts.description);
  if (opts.mappings) {
    const mapping: ValueMapping = { type: MappingType.ValueToText, options: Object.fromEntries(Object.entries(opts.mappings).map(([value, r], index) => [value, { ...r, index }])) };
    b.mappings([mapping]);
  }
  queries.forEach((q, i) => b.withTarget(target(q, i)));
  return b;
}

/**
 * A heatmap of a histogram's buckets over time: `expr` is the per-`le` rate of the `_bucket` series,
 * shown as Prometheus-style buckets (no recalculation in Grafana), the y axis in `unit`.
 */
export function heatmap(title: string, unit: string, expr: string, opts: { description?: string } = {}): PanelBuilder {
  const b = new HeatmapPanel()
    .title(title)
    .datasource(DATASOURCE)
    .gridPos({ x: 0, y: 0, ...GRAPH })
    .calculate(false)
    .color(new HeatmapColorOptionsBuilder().mode(HeatmapColorMode.Scheme).scheme('Oranges').scale(HeatmapColorScale.Exponential).exponent(0.5).steps(64).fill('dark-orange').reverse(false))
    .yAxis(new YAxisConfigBuilder().unit(unit))
    .withTarget(target({ expr, legend: '{{le}}' }, 0, PromQueryFormat.Heatmap));
  if (opts.description) b.description(opts.description);
  return b;
}

export const row = (title: string): RowBuilder => new RowBuilder(title);
