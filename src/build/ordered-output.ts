/**
 * Output of stages that run at the same time, shown as if they had run one after another: the first
 * unfinished stage (in the order they were added) writes through, the others are held until it is their turn.
 */
export class OrderedOutput<T = string> {
  private readonly order: number[] = [];
  private readonly held = new Map<number, T[]>();
  private readonly finished = new Set<number>();
  private live = 0;

  constructor(private readonly sink: (item: T) => void) {}

  add(stage: number): void {
    if (this.order.includes(stage)) return;
    this.order.push(stage);
    this.held.set(stage, []);
  }

  writer(stage: number): (item: T) => void {
    return (item) => {
      if (this.order[this.live] === stage) this.sink(item);
      else this.held.get(stage)!.push(item);
    };
  }

  done(stage: number): void {
    this.finished.add(stage);
    while (this.live < this.order.length && this.finished.has(this.order[this.live]!)) {
      this.live++;
      const next = this.order[this.live];
      if (next === undefined) break;
      for (const item of this.held.get(next)!) this.sink(item);
      this.held.set(next, []);
    }
  }

  /** Everything still held, in order (a failed build shows what every stage printed). */
  flush(): void {
    for (const stage of this.order.slice(this.live)) {
      for (const item of this.held.get(stage)!) this.sink(item);
      this.held.set(stage, []);
    }
  }
}
