/** A minimal typed event emitter that runs unchanged in browsers and Node (no `node:events`). */
export type Listener<T> = (value: T) => void;

export interface TypedEvents<E> {
  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof E>(event: K, listener: Listener<E[K]>): () => void;
  off<K extends keyof E>(event: K, listener: Listener<E[K]>): void;
}

export interface TypedEmitter<E> extends TypedEvents<E> {
  emit<K extends keyof E>(event: K, value: E[K]): void;
}

export function createEmitter<E>(): TypedEmitter<E> {
  const listeners: { [K in keyof E]?: Set<Listener<E[K]>> } = {};
  const off = <K extends keyof E>(event: K, listener: Listener<E[K]>) => {
    listeners[event]?.delete(listener);
  };
  return {
    on(event, listener) {
      let set = listeners[event];
      if (!set) {
        set = new Set();
        listeners[event] = set;
      }
      set.add(listener);
      return () => off(event, listener);
    },
    off,
    emit(event, value) {
      // A copy: a listener may remove itself (or others) while being called.
      for (const listener of [...(listeners[event] ?? [])]) listener(value);
    },
  };
}
