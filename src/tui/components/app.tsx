import { useInput } from 'ink';
import { useSyncExternalStore } from 'react';
import type { Controller } from '../controller.js';
import { Screen } from './screen.js';

/** Connects the store to the screen and the keyboard to the controller; nothing else. */
export function App({ controller }: { controller: Controller }) {
  const state = useSyncExternalStore(controller.store.subscribe, controller.store.get);
  useInput((input, key) => controller.handleInput(input, key));
  return <Screen state={state} pane={controller.paneSource()} />;
}
