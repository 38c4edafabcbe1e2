import { invalid } from '../util/errors.js';
import type { Instruction } from './dockerfile.js';
import { mountSources } from './run-mounts.js';

/**
 * A multi-stage Dockerfile as a graph: the ARGs before the first FROM, then the stages, each with its base
 * and the earlier stages it reads (`FROM <stage>`, `COPY --from=<stage|index>`,
 * `RUN --mount=type=bind,from=<stage|index>`). Only the stages the target
 * needs are built, and those that do not depend on each other run at the same time.
 */
export interface PlannedStep {
  ins: Instruction;
  /** 1-based position in the Dockerfile's instructions, for `Step N/M`. */
  number: number;
}

export interface StagePlan {
  index: number;
  /** `AS name`, lower-cased (stage names are case-insensitive). */
  name?: string;
  base: string;
  from: PlannedStep;
  steps: PlannedStep[];
}

export interface BuildPlan {
  globals: PlannedStep[];
  stages: StagePlan[];
  total: number;
}

/** `fromText` gives a FROM line's arguments with the global ARGs substituted. */
export function planStages(instructions: Instruction[], file: string, fromText: (ins: Instruction) => string): BuildPlan {
  const plan: BuildPlan = { globals: [], stages: [], total: instructions.length };
  for (const [i, ins] of instructions.entries()) {
    const step = { ins, number: i + 1 };
    if (ins.keyword === 'FROM') {
      const m = /^(\S+)(?:\s+[Aa][Ss]\s+(\S+))?$/.exec(fromText(ins).trim());
      if (!m) throw invalid(`${file}:${ins.line}: FROM needs an image, optionally followed by AS name`);
      const name = m[2]?.toLowerCase();
      if (name && plan.stages.some((s) => s.name === name)) throw invalid(`${file}:${ins.line}: duplicate stage name ${JSON.stringify(name)}`);
      plan.stages.push({ index: plan.stages.length, name, base: m[1]!, from: step, steps: [] });
    } else if (plan.stages.length === 0) plan.globals.push(step);
    else plan.stages.at(-1)!.steps.push(step);
  }
  if (plan.stages.length === 0) throw invalid(`${file}: no FROM instruction`);
  return plan;
}

/** The earlier stage `ref` names (by name, or by index where `byIndex`), if any: later stages are never sources. */
export function stageRef(plan: BuildPlan, ref: string, before: number, byIndex: boolean): StagePlan | undefined {
  const lower = ref.toLowerCase();
  return plan.stages.find((s) => s.index < before && (s.name === lower || (byIndex && String(s.index) === ref)));
}

/** The stage `--target` names, or the last one. */
export function targetStage(plan: BuildPlan, target: string | undefined): StagePlan {
  if (!target) return plan.stages.at(-1)!;
  const found = plan.stages.find((s) => s.name === target.toLowerCase());
  if (!found) throw invalid(`target stage ${JSON.stringify(target)} could not be found`);
  return found;
}

/** The stages `stage` reads directly, as far as the Dockerfile shows (ONBUILD triggers are found when they run). */
export function dependencies(plan: BuildPlan, stage: StagePlan): StagePlan[] {
  const refs = [stageRef(plan, stage.base, stage.index, false)];
  for (const { ins } of stage.steps) {
    if (ins.keyword === 'COPY' && ins.flags.from) refs.push(stageRef(plan, ins.flags.from, stage.index, true));
    if (ins.keyword === 'RUN' && ins.flags.mount) for (const from of mountSources(ins.flags.mount.split('\n'))) refs.push(stageRef(plan, from, stage.index, true));
  }
  return [...new Set(refs.filter((s): s is StagePlan => s !== undefined))];
}

/** The target and every stage it needs, in Dockerfile order. */
export function neededStages(plan: BuildPlan, target: StagePlan): StagePlan[] {
  const needed = new Set<StagePlan>();
  const visit = (stage: StagePlan) => {
    if (needed.has(stage)) return;
    needed.add(stage);
    for (const dep of dependencies(plan, stage)) visit(dep);
  };
  visit(target);
  return [...needed].sort((a, b) => a.index - b.index);
}
