/** `roost tui` without a terminal: one table (or JSON) of what the dashboard would show, then exit 0. */
import type { EngineApi } from './engine-api.js';
import { initialState, setList, type TuiState } from './state.js';
import { table, tableHeading } from './view-models.js';

export async function snapshot(api: EngineApi, opts: { json: boolean; columns: number }): Promise<string> {
  const [containers, images, volumes, networks] = await Promise.all([api.containers(), api.images(), api.volumes(), api.networks()]);
  if (opts.json) return `${JSON.stringify({ containers, images, volumes, networks }, null, 2)}\n`;
  let state: TuiState = initialState({ columns: opts.columns, rows: 1000 });
  state = setList('networks', networks)(setList('volumes', volumes)(setList('images', images)(setList('containers', containers)(state))));
  const sections: string[] = [];
  for (const view of ['containers', 'images', 'volumes', 'networks'] as const) {
    const model = table(state, view, 100_000);
    const heading = tableHeading(model).trimEnd();
    const rows = model.rows.map((r) => r.cells.join(' ').trimEnd());
    sections.push([`${view.toUpperCase()} (${model.total})`, heading, ...rows].join('\n'));
  }
  return `${sections.join('\n\n')}\n`;
}
