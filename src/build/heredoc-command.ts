import { chompHeredoc, heredocMarkers, type Instruction } from './dockerfile.js';

/**
 * What a RUN with here-documents runs, as BuildKit's Dockerfile frontend decides it:
 * - `RUN <<EOF` alone: the body is the script. With a `#!` line it is a file executed by the shell (so its
 *   own interpreter runs it), otherwise the body is handed to the shell as its command string.
 * - anything else (`RUN python3 <<EOF`, several heredocs, redirections): the line and the bodies are put
 *   back together and the shell reads them as its own here-documents, so `<<-` and quoted delimiters
 *   behave as the shell defines them.
 */
export interface RunCommand {
  cmd: string[];
  /** A script to place, executable, at `/dev/pipes/<name>` before the command runs. */
  script?: { name: string; content: string };
}

export const scriptDir = '/dev/pipes';

export function runCommand(ins: Instruction, shell: string[]): RunCommand {
  if (ins.json) return { cmd: ins.json };
  const heredocs = ins.heredocs ?? [];
  if (heredocs.length === 0) return { cmd: [...shell, ins.args] };
  const markers = heredocMarkers(ins.args);
  if (heredocs.length === 1 && markers.length === 1 && ins.args.trim() === markers[0]!.marker) {
    const doc = heredocs[0]!;
    const body = doc.chomp ? chompHeredoc(doc.content) : doc.content;
    if (body.startsWith('#!')) return { cmd: [...shell, `${scriptDir}/${doc.name}`], script: { name: doc.name, content: body } };
    return { cmd: [...shell, body] };
  }
  return { cmd: [...shell, ins.args + heredocs.map((doc) => `\n${doc.content}${doc.name}`).join('')] };
}
