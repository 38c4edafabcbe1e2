import { EventEmitter } from 'node:events';

export type EventType = 'container' | 'image' | 'volume' | 'network' | 'daemon';

/** A Docker-shaped event, with the legacy top-level fields docker-compose 1.29 reads. */
export interface EngineEvent {
  Type: EventType;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local';
  time: number;
  timeNano: number;
  status?: string;
  id?: string;
  from?: string;
}

/** In-memory event bus with a bounded history so `events --since` can replay recent events. */
export class EventBus {
  private readonly emitter = new EventEmitter();
  private readonly history: EngineEvent[] = [];
  private readonly historyLimit = 1000;

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  emit(type: EventType, action: string, id: string, attributes: Record<string, string>): EngineEvent {
    const nowNs = BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n);
    const event: EngineEvent = {
      Type: type,
      Action: action,
      Actor: { ID: id, Attributes: attributes },
      scope: 'local',
      time: Number(nowNs / 1_000_000_000n),
      timeNano: Number(nowNs),
    };
    if (type === 'container' || type === 'image') {
      event.status = action;
      event.id = id;
      if (attributes.image) event.from = attributes.image;
    }
    this.history.push(event);
    if (this.history.length > this.historyLimit) this.history.shift();
    this.emitter.emit('event', event);
    return event;
  }

  since(timeNano: number): EngineEvent[] {
    return this.history.filter((e) => e.timeNano >= timeNano);
  }

  subscribe(listener: (event: EngineEvent) => void): () => void {
    this.emitter.on('event', listener);
    return () => this.emitter.off('event', listener);
  }
}
