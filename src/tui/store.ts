import type { TuiState, Update } from './state.js';

/** Holds the dashboard's state; React subscribes to it, the controller updates it. */
export class Store {
  private listeners = new Set<() => void>();

  constructor(private state: TuiState) {}

  get = (): TuiState => this.state;

  update(...updates: Update[]): void {
    let next = this.state;
    for (const update of updates) next = update(next);
    if (next === this.state) return;
    this.state = next;
    for (const listener of this.listeners) listener();
  }

  /**
   * Changes the state without a redraw: for changes that alter nothing on screen (a stats sample that
   * leaves every visible figure as it was). The next redraw shows them.
   */
  updateQuietly(...updates: Update[]): void {
    for (const update of updates) this.state = update(this.state);
  }

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };
}
