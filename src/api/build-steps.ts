/**
 * Roost's CLI asks POST /build for step events (for `--progress`) with this header; the daemon then sends
 * `{"roostStep": StepEvent}` lines among Docker's `{"stream"}` ones. Clients that do not ask (the docker CLI's
 * classic builder) get Docker's stream only.
 */
export const stepsHeader = 'x-roost-build-steps';
