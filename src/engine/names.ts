import { randomInt } from 'node:crypto';

const adjectives = ['brave', 'calm', 'eager', 'fancy', 'gentle', 'happy', 'jolly', 'keen', 'lucid', 'merry', 'nifty', 'proud', 'quiet', 'sharp', 'tender', 'vivid', 'witty', 'zealous'];
const nouns = ['albatross', 'bittern', 'crane', 'dunlin', 'egret', 'finch', 'grebe', 'heron', 'ibis', 'jay', 'kestrel', 'lark', 'merlin', 'nightjar', 'osprey', 'plover', 'quail', 'robin', 'swift', 'tern', 'wren'];

/** A Docker-style random name (adjective_bird), unique among `taken`. */
export function randomName(taken: (name: string) => boolean): string {
  for (let i = 0; ; i++) {
    const name = `${adjectives[randomInt(adjectives.length)]}_${nouns[randomInt(nouns.length)]}${i > 20 ? randomInt(100) : ''}`;
    if (!taken(name)) return name;
  }
}

export const namePattern = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
