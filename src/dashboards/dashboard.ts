/**
 * One dashboard from its definition: the data source variable first, then label variables (each a
 * multi-select with "All" as `.*`), rows of panels laid out left to right, links to the other mailfleet
 * dashboards, and ids numbered in order so that the same definition always gives the same JSON.
 */
import { CustomVariableBuilder, DashboardBuilder, DashboardCursorSync, DashboardLinkBuilder, DashboardLinkType, DatasourceVariableBuilder, QueryVariableBuilder, TimePickerBuilder, VariableRefresh, VariableSort, type Dashboard, type Panel, type RowPanel } from '@grafana/grafana-foundation-sdk/dashboard';
import { DATASOURCE, row, type PanelBuilder } from './panels.ts';

/** Tag on every mailfleet dashboard; the links between them follow it. */
export const DASHBOARD_TAG = 'mailfleet';
const UID_PREFIX = 'mailfleet-';

/** A dashboard variable whose values are one label's values on one series selector. */
export interface LabelVariable {
  kind: 'label';
  /** The label, and the variable's name (`$namespace`). */
  name: string;
  label: string;
  /** Series selector whose `name` label values are offered, e.g. `mailfleet_agent_ready{namespace=~"$namespace"}`. */
  selector: string;
}

/** A dashboard variable with fixed values (e.g. the stages of a histogram). */
export interface ListVariable {
  kind: 'list';
  name: string;
  label: string;
  values: readonly string[];
}

export type Variable = LabelVariable | ListVariable;

export interface Section {
  title: string;
  panels: readonly PanelBuilder[];
}

export interface DashboardDefinition {
  /** Short name: the uid is `mailfleet-<name>`, the file `mailfleet-<name>.json`. */
  name: string;
  title: string;
  description: string;
  variables: readonly Variable[];
  sections: readonly Section[];
}

function variable(v: Variable) {
  if (v.kind === 'list') {
    return new CustomVariableBuilder(v.name).label(v.label).values(v.values.join(',')).multi(true).includeAll(true).allValue('.*')
      .current({ selected: true, text: ['All'], value: ['$__all'] });
  }
  return new QueryVariableBuilder(v.name)
    .label(v.label)
    .datasource(DATASOURCE)
    .query(`label_values(${v.selector}, ${v.name})`)
    .definition(`label_values(${v.selector}, ${v.name})`)
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.AlphabeticalAsc)
    .multi(true)
    .includeAll(true)
    .allValue('.*')
    .current({ selected: true, text: ['All'], value: ['$__all'] });
}

/** Panel ids in order of appearance, rows included, starting at 1 (Grafana wants them unique per dashboard). */
function numberPanels(panels: (Panel | RowPanel)[]): void {
  let id = 0;
  for (const p of panels) {
    p.id = ++id;
    if (p.type === 'row') for (const inner of (p as RowPanel).panels) inner.id = ++id;
  }
}

export function buildDashboard(def: DashboardDefinition): Dashboard {
  const b = new DashboardBuilder(def.title)
    .uid(`${UID_PREFIX}${def.name}`)
    .description(def.description)
    .tags([DASHBOARD_TAG])
    .editable()
    .tooltip(DashboardCursorSync.Crosshair)
    .refresh('1m')
    .time({ from: 'now-6h', to: 'now' })
    .timezone('browser')
    .timepicker(new TimePickerBuilder().refreshIntervals(['30s', '1m', '5m', '15m', '1h']))
    .link(new DashboardLinkBuilder('mailfleet').type(DashboardLinkType.Dashboards).tags([DASHBOARD_TAG]).asDropdown(true).includeVars(true).keepTime(true).targetBlank(false))
    .withVariable(new DatasourceVariableBuilder('datasource').label('Data source').type('prometheus'));
  for (const v of def.variables) b.withVariable(variable(v));
  for (const section of def.sections) {
    b.withRow(row(section.title));
    for (const p of section.panels) b.withPanel(p);
  }
  const dashboard = b.build();
  numberPanels(dashboard.panels ?? []);
  return dashboard;
}

/** The uid of the dashboard called `name`. */
export const dashboardUid = (name: string): string => `${UID_PREFIX}${name}`;
