import { useInput, useStdout } from 'ink';
import { useEffect, useSyncExternalStore } from 'react';
import type { Controller } from '../controller.js';
import { Screen } from './screen.js';

/** Connects the store to the screen, and the keyboard and the terminal's size to the controller. */
export function App({ controller }: { controller: Controller }) {
  const state = useSyncExternalStore(controller.store.subscribe, controller.store.get);
  const { stdout } = useStdout();
  useEffect(() => {
    const onResize = () => controller.resize(stdout.columns || 80, stdout.rows || 24);
    onResize();
    stdout.on('resize', onResize);
    return () => void stdout.off('resize', onResize);
  }, [controller, stdout]);
  useInput((input, key) => controller.handleInput(input, key));
  return <Screen state={state} pane={controller.paneSource()} />;
}
